//! The scenarios: each one key script (drive.py steps) run through Asterisk's own app and
//! through imapvm's FastAGI with the same options, after the same seeding.
//!
//! Scripts wait for prompts with `@name` steps (the key goes out when the prompt starts)
//! rather than fixed pauses, and send media (`t`/`p`) while Asterisk records: its recorder
//! gives up after 2 + 2 s without frames (the kit's pitfalls). `@*msg[0-9]*` waits for a
//! message's audio (Asterisk's `…/INBOX/msg0000`, imapvm's `…/TOKEN-msg1`).

/// Which application a scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// `VoiceMail()`: contexts `app-leave` / `agi-leave`.
    Leave,
    /// `VoiceMailMain()`: contexts `app-main` / `agi-main`.
    Main,
}

impl App {
    /// The kit's dialplan context of Asterisk's own app, and of the FastAGI one.
    pub fn contexts(self) -> (&'static str, &'static str) {
        match self {
            App::Leave => ("app-leave", "agi-leave"),
            App::Main => ("app-main", "agi-main"),
        }
    }

    /// The application's name.
    pub fn name(self) -> &'static str {
        match self {
            App::Leave => "VoiceMail",
            App::Main => "VoiceMailMain",
        }
    }
}

/// One scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its name (`--only`).
    pub name: &'static str,
    /// What it checks, in a few words.
    pub about: &'static str,
    /// The application.
    pub app: App,
    /// The mailbox (in `[default]`).
    pub mailbox: &'static str,
    /// The application's options (`agi_arg_2` on the AGI side).
    pub opts: &'static str,
    /// The phone's script.
    pub script: &'static str,
    /// Messages left in the box first, on both sides (each through app-leave and
    /// agi-leave right after each other, so that their dates agree).
    pub seed: usize,
    /// Caller ID of the call.
    pub cid: Option<&'static str>,
}

/// The caller ID of seeded messages (the envelope says its number).
pub const SEED_CID: &str = "\"Bob Caller\" <5551001>";

/// The script and options that leave one seeded message: 2 s of tone, then `#`.
pub const SEED_SCRIPT: &str = "@beep p0.5 t2 k# p1";
/// The seeding call's options: no instructions.
pub const SEED_OPTS: &str = "s";

const LEAVE: &str = "@beep p0.5 t2 k# p1";

/// Every scenario, in the order they run.
pub const SCENARIOS: &[Scenario] = &[
    leave(
        "leave-u",
        "unavailable greeting (invented), intro, beep, 2 s, #",
        "1234",
        "u",
        LEAVE,
    ),
    leave(
        "leave-b",
        "busy greeting (invented), intro, beep, 2 s, #",
        "1234",
        "b",
        LEAVE,
    ),
    leave(
        "leave-s",
        "no instructions: beep, 2 s, #",
        "1234",
        "s",
        LEAVE,
    ),
    leave(
        "leave-plain",
        "no option: intro, beep, 2 s, #",
        "1234",
        "",
        LEAVE,
    ),
    leave(
        "leave-hash-in-greeting",
        "# during the greeting skips the intro",
        "1234",
        "u",
        "@vm-theperson k# @beep p0.5 t2 k# p1",
    ),
    leave(
        "leave-star-in-greeting",
        "* during the greeting leaves to extension a (USEREXIT)",
        "1234",
        "u",
        "@vm-theperson k* p3",
    ),
    leave(
        "leave-operator",
        "0 during the greeting with operator=yes: transfer, extension o",
        "5678",
        "u",
        "@vm-theperson k0 p4",
    ),
    leave(
        "leave-review-accept",
        "review=yes: the whole review menu, then 1 keeps the message",
        "5678",
        "s",
        "@beep p0.5 t2 k# @vm-reachoper k1 p2",
    ),
    leave(
        "leave-review-rerecord",
        "review=yes: 3 records again, then 1 keeps it",
        "5678",
        "s",
        "@beep p0.5 t2 k# @vm-review k3 @beep p0.5 t2 k# @vm-review k1 p2",
    ),
    leave(
        "leave-hangup-recording",
        "the caller hangs up while recording: the message is kept",
        "1234",
        "s",
        "@beep p0.5 t2 h",
    ),
    Scenario {
        seed: 1,
        ..leave(
            "leave-full",
            "maxmsg=1 and one message there: vm-mailboxfull, FAILED",
            "4321",
            "s",
            "p5",
        )
    },
    main(
        "main-login-exit",
        "log in to an empty box, # at the menu",
        0,
        "@vm-password k1234# @vm-opts k# p2",
    ),
    main(
        "main-listen-exit",
        "log in, 1 plays the new message to its end, # at the menu",
        1,
        "@vm-password k1234# @vm-onefor k1 @vm-advopts k# p2",
    ),
    main(
        "main-wrong-pin",
        "a wrong password, then the right one",
        0,
        "@vm-password k1111# @vm-password k1234# @vm-opts k# p2",
    ),
    main(
        "main-delete",
        "listen, 7 deletes at the menu, # exits",
        1,
        "@vm-password k1234# @vm-onefor k1 @vm-advopts k7 @vm-advopts k# p2",
    ),
    main(
        "main-delete-during-audio",
        "listen, 7 during the audio deletes, # exits",
        1,
        "@vm-password k1234# @vm-onefor k1 @*msg[0-9]* k7 @vm-advopts k# p2",
    ),
    main(
        "main-save-work",
        "listen, 9 then 2 saves it to Work",
        1,
        "@vm-password k1234# @vm-onefor k1 @vm-advopts k9 @vm-tocancel k2 @vm-advopts k# p2",
    ),
    main(
        "main-save-during-audio",
        "listen, 9 during the audio then 2 saves it to Work",
        1,
        "@vm-password k1234# @vm-onefor k1 @*msg[0-9]* k9 @vm-tocancel k2 @vm-advopts k# p2",
    ),
    main(
        "main-change-folder",
        "2 then 1 changes to Old",
        1,
        "@vm-password k1234# @vm-onefor k2 @vm-tocancel k1 @vm-opts k# p2",
    ),
    main(
        "main-options",
        "0 opens the mailbox options, * goes back",
        1,
        "@vm-password k1234# @vm-opts k0 @vm-options k* @vm-opts k# p2",
    ),
    main(
        "main-help",
        "listen, * for help, # after it",
        1,
        "@vm-password k1234# @vm-onefor k1 @vm-advopts k* @vm-opts-full @vm-helpexit k# p2",
    ),
    main(
        "main-envelope",
        "listen, 3 (advanced) then 3 says the envelope",
        1,
        "@vm-password k1234# @vm-onefor k1 @vm-advopts k3 @vm-starmain k3 @vm-advopts k# p2",
    ),
    main(
        "main-envelope-during-audio",
        "listen, 3 during the audio (advanced) then 3 says the envelope",
        1,
        "@vm-password k1234# @vm-onefor k1 @*msg[0-9]* k3 @vm-starmain k3 @vm-advopts k# p2",
    ),
];

const fn leave(
    name: &'static str,
    about: &'static str,
    mailbox: &'static str,
    opts: &'static str,
    script: &'static str,
) -> Scenario {
    Scenario {
        name,
        about,
        app: App::Leave,
        mailbox,
        opts,
        script,
        seed: 0,
        cid: Some(SEED_CID),
    }
}

const fn main(
    name: &'static str,
    about: &'static str,
    seed: usize,
    script: &'static str,
) -> Scenario {
    Scenario {
        name,
        about,
        app: App::Main,
        mailbox: "1234",
        opts: "",
        script,
        seed,
        cid: None,
    }
}

/// The scenarios `only` names (all when empty); an unknown name is an error that lists
/// the known ones.
pub fn select(only: &[String]) -> Result<Vec<Scenario>, String> {
    if only.is_empty() {
        return Ok(SCENARIOS.to_vec());
    }
    if let Some(unknown) = only
        .iter()
        .find(|n| !SCENARIOS.iter().any(|s| s.name == n.as_str()))
    {
        return Err(format!(
            "no scenario `{unknown}`; there are: {}",
            SCENARIOS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(SCENARIOS
        .iter()
        .filter(|s| only.iter().any(|n| n == s.name))
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asterisk::kit::BOXES;

    /// Every VoiceMailMain script starts at the password prompt (the box is given).
    const LOGIN: &str = "@vm-password k";

    #[test]
    fn scenario_names_are_unique_and_selectable() {
        let mut names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SCENARIOS.len());
        let picked = select(&["main-help".to_owned(), "leave-u".to_owned()]).unwrap();
        assert_eq!(
            picked.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["leave-u", "main-help"],
            "table order"
        );
        assert!(
            select(&["nope".to_owned()])
                .unwrap_err()
                .contains("leave-u")
        );
        assert_eq!(select(&[]).unwrap().len(), SCENARIOS.len());
    }

    #[test]
    fn scripts_are_steps_drive_py_accepts_on_known_boxes() {
        let step_ok = |s: &str| {
            let num = |a: &str| !a.is_empty() && a.parse::<f64>().is_ok();
            match s.split_at(1) {
                ("t" | "p" | "w", n) => num(n),
                ("k", keys) => {
                    !keys.is_empty() && keys.chars().all(|c| "0123456789*#ABCDabcdwW".contains(c))
                }
                // drive.py: `@[^/\s]+`
                ("@", name) => !name.is_empty() && !name.contains('/'),
                ("h", "") => true,
                _ => false,
            }
        };
        for s in SCENARIOS {
            assert!(BOXES.iter().any(|b| b.number == s.mailbox), "{}", s.name);
            for step in s
                .script
                .split_whitespace()
                .chain(SEED_SCRIPT.split_whitespace())
            {
                assert!(step_ok(step), "{}: bad step {step:?}", s.name);
            }
            if s.app == App::Main {
                assert!(s.script.starts_with(LOGIN), "{}", s.name);
            }
        }
    }
}
