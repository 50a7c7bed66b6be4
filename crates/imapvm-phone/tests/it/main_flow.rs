//! VoiceMailMain() over FastAGI.
