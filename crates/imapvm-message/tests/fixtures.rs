//! Hand-made fixtures: older Asterisk header sets and messages a mail client touched.
