//! Canary credentials: every operation runs at trace level with the output captured; the
//! passwords (and their SASL PLAIN base64 forms) must appear in no log line, no error text
//! and no Debug output.

use imapvm::{FlagOp, MessageRef};

use crate::support::{Capture, base64};
use crate::{pw, server, store_for, unique, voicemail};

/// Every form a secret could leak in.
fn forms(user: &str, authz: &str, password: &str) -> Vec<String> {
    vec![
        password.to_owned(),
        base64(format!("{authz}\0{user}\0{password}").as_bytes()),
        base64(format!("\0{user}\0{password}").as_bytes()),
        base64(password.as_bytes()),
    ]
}

#[tokio::test]
async fn no_password_in_trace_logs_errors_or_debug_output() {
    let s = server();
    let master = s.master.clone().expect("Dovecot has a master user");
    let (capture, _guard) = Capture::trace();

    let folder = unique("canary");
    let good = store_for(
        "canary",
        &s.host,
        s.port,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    let proxy_store = store_for(
        "canary-master",
        &s.host,
        s.imaps_port,
        &format!(
            "imapflags=ssl\nauthuser={}\nauthpassword={}\nimapfolder={folder}",
            master.user, master.password
        ),
        "[default]\n4321 => 4321,Bob,,,imapuser=vm4321\n",
    );
    let canary = "Canary-Pw-7f3a9QzX";
    // The refused durable deposit below is queued: into this test's own outbox, never the
    // machine's /var/spool/imapvm/outbox.
    let outbox = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("imapvm-it-outbox")
        .join(&folder);
    let bad = store_for(
        "canary-bad",
        &s.host,
        s.port,
        &format!("imapfolder={folder}\nimapvm_outbox={}", outbox.display()),
        &format!("[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={canary}\n"),
    );

    let mut texts: Vec<String> = Vec::new();
    let mb = good.mailbox("1234@default").unwrap();
    let d = mb.deposit(&voicemail("5551234", 300)).await.unwrap();
    texts.push(format!("{d:?}"));
    let listing = mb.list(None).await.unwrap();
    texts.push(format!("{listing:?}"));
    let played = mb.play(MessageRef::Uid(d.uid), None).await;
    texts.push(format!("{:?}", played.map(|p| p.uid)));
    texts.push(format!(
        "{:?}",
        mb.set_flag(MessageRef::Uid(d.uid), None, FlagOp::Urgent)
            .await
    ));
    texts.push(format!("{:?}", mb.count().await));
    texts.push(format!("{:?}", mb.message_summary(None).await));
    texts.push(format!("{:?}", mb.probe().await.map(|p| p.capabilities)));
    texts.push(format!(
        "{:?}",
        mb.delete(&[MessageRef::Uid(d.uid)], None).await
    ));
    texts.push(format!("{mb:?} {good:?} {:?}", good.config()));
    texts.push(format!("{:?}", mb.settings()));

    let pmb = proxy_store.mailbox("4321@default").unwrap();
    texts.push(format!("{:?}", pmb.count().await));
    texts.push(format!("{pmb:?} {:?}", pmb.settings()));

    let bmb = bad.mailbox("1234@default").unwrap();
    let err = bmb.count().await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    let err = bmb.deposit(&voicemail("5551235", 100)).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));

    for st in [&good, &proxy_store, &bad] {
        st.close().await;
    }
    drop(_guard);
    let log = capture.text();
    // The capture works: the protocol trace is there.
    assert!(log.contains("AUTHENTICATE"), "no protocol trace captured");
    assert!(log.contains("APPEND"), "no protocol trace captured");
    let mut secrets = forms("vm1234", "", &pw("vm1234"));
    secrets.extend(forms(&master.user, "vm4321", &master.password));
    secrets.extend(forms("vm1234", "", canary));
    let all = format!("{log}\n{}", texts.join("\n"));
    for secret in &secrets {
        assert!(
            !all.contains(secret.as_str()),
            "a secret ({} chars) appears in the logs/errors/Debug output",
            secret.len()
        );
    }
    eprintln!(
        "canary: {} bytes of trace log and {} result/error/Debug texts checked for {} secret forms",
        log.len(),
        texts.len(),
        secrets.len()
    );
}
