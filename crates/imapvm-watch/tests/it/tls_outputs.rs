//! The outputs over TLS: `https://` webhooks to a real HTTPS receiver (hyper's server behind
//! rustls, a test CA from `imapvm_harness::pki`) with their `X-Imapvm-Signature` recomputed
//! by Python's `hmac`, and AMI over TLS (`tls://`) to a scripted AMI peer behind a rustls
//! acceptor. Certificates the client does not trust are refused without a panic, with a
//! typed error, in the log, and without a credential crossing the wire; secrets appear in
//! no log line, report or Debug output.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use imapvm::{MwiCounts, Secret, TlsError};
use imapvm_config::{AmiTarget, WebhookUrl};
use imapvm_harness::logs::Capture;
use imapvm_harness::pki::Pki;
use imapvm_testkit::{Peer, Reply, Script, lines};
use imapvm_watch::{
    AmiNotifier, AmiOptions, AmiReport, AttemptError, GaveUp, MwiEvent, OutputStartError,
    WebhookNotifier, WebhookOptions, WebhookReport,
};
use tokio::net::TcpListener;

const WITHIN: Duration = Duration::from_secs(10);

/// The webhook secret of these tests: it must appear nowhere but in the HMAC.
const HOOK_SECRET: &str = "whsec-canary-7Qx!f00d";

/// A request as the HTTPS receiver got it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTPS webhook receiver: hyper's HTTP/1.1 server behind a rustls acceptor. It answers
/// the statuses it was given, in order, then 200; it records every request and every
/// failed handshake.
struct HttpsReceiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    refused: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpsReceiver {
    async fn start(config: Arc<rustls::ServerConfig>, statuses: &[u16]) -> HttpsReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = Pki::acceptor(config);
        let requests: Arc<Mutex<Vec<Received>>> = Arc::default();
        let refused: Arc<Mutex<Vec<String>>> = Arc::default();
        let statuses = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let (seen, refusals) = (Arc::clone(&requests), Arc::clone(&refused));
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen, refusals) =
                    (acceptor.clone(), Arc::clone(&seen), Arc::clone(&refusals));
                let statuses = Arc::clone(&statuses);
                tokio::spawn(async move {
                    let tls = match acceptor.accept(tcp).await {
                        Ok(tls) => tls,
                        Err(e) => return refusals.lock().unwrap().push(e.to_string()),
                    };
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (seen, statuses) = (Arc::clone(&seen), Arc::clone(&statuses));
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await?.to_bytes().to_vec();
                            seen.lock().unwrap().push(Received {
                                method: parts.method.to_string(),
                                target: parts.uri.to_string(),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.to_string(), v.to_str().unwrap_or("?").to_owned())
                                    })
                                    .collect(),
                                body,
                            });
                            let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                            let answer = Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::new()))
                                .unwrap();
                            Ok::<_, hyper::Error>(answer)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        HttpsReceiver {
            addr,
            requests,
            refused,
            task,
        }
    }

    fn url(&self, path: &str) -> WebhookUrl {
        format!("https://{}{path}", self.addr).parse().unwrap()
    }

    fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

impl Drop for HttpsReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn event(mailbox: &str, new: u32, old: u32) -> MwiEvent {
    MwiEvent {
        mailbox: mailbox.into(),
        context: "default".into(),
        counts: MwiCounts {
            new,
            urgent: 0,
            old,
            old_urgent: 0,
        },
        at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_674_094_123),
        seen: None,
    }
}

fn hooks(ca_file: Option<&Pki>, secret: Option<&str>) -> WebhookOptions {
    WebhookOptions {
        timeout: Duration::from_secs(5),
        retries: 3,
        backoff_first: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ca_file: ca_file.map(Pki::ca_file),
        secret: secret.map(Secret::new),
        ..WebhookOptions::default()
    }
}

async fn hook_report(hook: &mut WebhookNotifier) -> WebhookReport {
    tokio::time::timeout(WITHIN, hook.next_report())
        .await
        .expect("a webhook report in time")
        .expect("the notifier runs")
}

/// The HMAC-SHA256 of `body` keyed with `secret`, as a receiver computes it: Python's
/// `hmac`, independent of the code under test.
fn python_hmac(secret: &str, body: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import hashlib, hmac, sys\n\
             key = sys.argv[1].encode()\n\
             print('sha256=' + hmac.new(key, sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            secret,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An `https://` webhook trusting `webhook_cafile`: the POST arrives over TLS with the
/// event's JSON, signed; the signature is Python's HMAC of the received bytes; a webhook
/// without a secret sends no signature; the secret is in no log line, report or Debug output.
#[tokio::test]
async fn an_https_webhook_is_delivered_signed_and_the_signature_verifies() {
    let (log, _guard) = Capture::trace();
    let pki = Pki::new("hook-signed");
    let receiver = HttpsReceiver::start(pki.signed(&["127.0.0.1"], false), &[]).await;
    let options = hooks(Some(&pki), Some(HOOK_SECRET));
    let shown = format!("{options:?}");
    let mut hook = WebhookNotifier::start(&receiver.url("/mwi?site=1"), options).unwrap();
    hook.notify(&event("1234", 2, 5));
    let report = hook_report(&mut hook).await;
    assert!(
        matches!(&report, WebhookReport::Delivered { status: 200, attempts: 1, mailbox, .. } if mailbox == "1234@default"),
        "{report:?}"
    );
    let r = &receiver.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.target.as_str()),
        ("POST", "/mwi?site=1")
    );
    assert_eq!(r.header("Host"), Some(receiver.addr.to_string().as_str()));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap(),
        r#"{"at":"2026-11-26T06:21:34.123Z","context":"default","mailbox":"1234","new":2,"old":5,"urgent":0}"#
    );
    let signed = r.header("X-Imapvm-Signature").expect("signed");
    assert_eq!(signed, python_hmac(HOOK_SECRET, &r.body));
    assert!(
        signed.starts_with("sha256=") && signed.len() == 7 + 64,
        "{signed}"
    );
    hook.stop().await;

    // No secret, no signature.
    let mut unsigned =
        WebhookNotifier::start(&receiver.url("/mwi"), hooks(Some(&pki), None)).unwrap();
    unsigned.notify(&event("1234", 0, 7));
    assert!(matches!(
        hook_report(&mut unsigned).await,
        WebhookReport::Delivered { .. }
    ));
    assert_eq!(receiver.requests()[1].header("X-Imapvm-Signature"), None);
    unsigned.stop().await;

    let log = log.text();
    assert!(
        log.contains("webhook delivered"),
        "the capture works: {log}"
    );
    for text in [log, shown, format!("{report:?}")] {
        assert!(!text.contains(HOOK_SECRET), "the secret leaked: {text}");
    }
}

/// 5xx are retried on new TLS connections with the same signed body, after the back-off.
#[tokio::test]
async fn https_server_errors_are_retried_with_the_same_signed_body() {
    let pki = Pki::new("hook-retry");
    let receiver = HttpsReceiver::start(pki.signed(&["127.0.0.1"], false), &[503, 500]).await;
    let mut hook =
        WebhookNotifier::start(&receiver.url("/hook"), hooks(Some(&pki), Some(HOOK_SECRET)))
            .unwrap();
    hook.notify(&event("1234", 1, 0));
    match hook_report(&mut hook).await {
        WebhookReport::Delivered {
            status: 200,
            attempts: 3,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.body, requests[0].body);
        assert_eq!(
            r.header("X-Imapvm-Signature"),
            Some(python_hmac(HOOK_SECRET, &r.body).as_str())
        );
    }
    hook.stop().await;
}

/// A certificate the client does not trust (its CA neither in the system store nor in
/// `webhook_cafile`, another CA's file, another host's name) fails the event at the first
/// attempt with a typed TLS error, logged; no request reaches the receiver. A CA file that
/// cannot be read stops the webhook from starting, naming `webhook_cafile`.
#[tokio::test]
async fn an_untrusted_https_certificate_is_refused_once_typed_and_logged() {
    let (log, _guard) = Capture::trace();
    let pki = Pki::new("hook-untrusted");
    let stranger = Pki::new("hook-stranger");
    let cases = [
        (
            "no webhook_cafile",
            pki.signed(&["127.0.0.1"], false),
            None,
            "UnknownIssuer",
        ),
        // The stranger CA has the same name and another key: the signature is wrong.
        (
            "another CA's file",
            pki.signed(&["127.0.0.1"], false),
            Some(&stranger),
            "BadSignature",
        ),
        (
            "another host",
            pki.signed(&["hooks.other.test"], false),
            Some(&pki),
            "not valid for name",
        ),
    ];
    for (case, config, ca, reason) in cases {
        let receiver = HttpsReceiver::start(config, &[]).await;
        let mut hook =
            WebhookNotifier::start(&receiver.url("/hook"), hooks(ca, Some(HOOK_SECRET))).unwrap();
        hook.notify(&event("1234", 1, 0));
        match hook_report(&mut hook).await {
            WebhookReport::Failed {
                attempts: 1, error, ..
            } => {
                assert!(
                    matches!(error.last, AttemptError::Tls(TlsError::Handshake(_))),
                    "{case}: {error:?}"
                );
                assert_eq!(error.gave_up, GaveUp::NotRetryable, "{case}");
                assert!(!error.last.is_retried(), "{case}");
                let text = error.to_string();
                assert!(text.contains(reason), "{case}: {text}");
                assert!(
                    text.starts_with(&receiver.url("/hook").to_string()),
                    "{text}"
                );
            }
            other => panic!("{case}: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(receiver.requests().is_empty(), "{case}: a request went out");
        assert_eq!(receiver.refused().len(), 1, "{case}: retried?");
        hook.stop().await;
    }
    let log = log.text();
    assert_eq!(
        log.matches("webhook not delivered").count(),
        3,
        "each refusal is logged: {log}"
    );
    assert!(!log.contains(HOOK_SECRET), "{log}");

    let url: WebhookUrl = "https://127.0.0.1:9/hook".parse().unwrap();
    let options = WebhookOptions {
        ca_file: Some("/nonexistent/hooks-ca.pem".into()),
        ..WebhookOptions::default()
    };
    let err = WebhookNotifier::start(&url, options).unwrap_err();
    match &err {
        OutputStartError::Tls { source, .. } => assert!(
            matches!(
                **source,
                TlsError::CaFileUnreadable {
                    setting: "webhook_cafile",
                    ..
                }
            ),
            "{err:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("/nonexistent/hooks-ca.pem"),
        "{err}"
    );
}

/// A receiver that does not speak HTTP, or whose answer's head has no end within 16 KiB, is
/// an HTTP error (retried like a broken connection), not a panic and not a hang.
#[tokio::test]
async fn a_receiver_that_is_not_http_or_never_ends_its_head_is_an_http_error() {
    let endless_head = {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..40 {
            head.push_str(&format!("X-Pad-{i}: {}\r\n", "a".repeat(1000)));
        }
        head
    };
    for greeting in ["SSH-2.0-OpenSSH_9.6\r\n".to_owned(), endless_head] {
        let peer = Peer::builder()
            .respond(move || {
                let greeting = greeting.clone();
                lines(greeting, |_| Reply::nothing())
            })
            .await
            .unwrap();
        let url: WebhookUrl = format!("http://{}/hook", peer.addr()).parse().unwrap();
        let mut hook = WebhookNotifier::start(
            &url,
            WebhookOptions {
                retries: 1,
                ..hooks(None, None)
            },
        )
        .unwrap();
        hook.notify(&event("1234", 1, 0));
        match hook_report(&mut hook).await {
            WebhookReport::Failed {
                attempts: 2, error, ..
            } => {
                assert!(matches!(error.last, AttemptError::Http(_)), "{error:?}");
                assert_eq!(error.gave_up, GaveUp::RetriesSpent);
            }
            other => panic!("{other:?}"),
        }
        hook.stop().await;
    }
}

fn tls_target(port: u16, flags: &str, secret: &str, mode: &str) -> AmiTarget {
    format!("tls://127.0.0.1:{port}{flags},imapvm,{secret},{mode}")
        .parse()
        .unwrap()
}

async fn ami_report(ami: &mut AmiNotifier) -> AmiReport {
    tokio::time::timeout(WITHIN, ami.next_report())
        .await
        .expect("an AMI report in time")
        .expect("the driver runs")
}

/// AMI over TLS trusting `ami_cafile`: the banner, the login, the `MWIUpdate` and the
/// log-off are exactly Asterisk's manager framing, inside TLS.
#[tokio::test]
async fn ami_over_tls_logs_in_and_sends_mwiupdate_trusting_the_ami_cafile() {
    let pki = Pki::new("ami-tls");
    let acceptor = pki.loopback_acceptor();
    let script = Script::parse(
        "S: Asterisk Call Manager/5.0.2
         C: Action: Login
         C: ActionID: imapvm-1
         C: Username: imapvm
         C: Secret: tls-s3cret
         C: Events: off
         C:
         S: Response: Success
         S: ActionID: imapvm-1
         S: Message: Authentication accepted
         S:
         C: Action: MWIUpdate
         C: ActionID: imapvm-2
         C: Mailbox: 1234@default
         C: NewMessages: 3
         C: OldMessages: 4
         C:
         S: Response: Success
         S: ActionID: imapvm-2
         S: Message: Mailbox updated
         S:
         C: Action: Logoff
         C: ActionID: imapvm-3
         C:
         S: Response: Goodbye
         S: ActionID: imapvm-3
         S: Message: Thanks for all the fish.
         S:
         close",
    )
    .unwrap();
    let peer = Pki::peer_behind(acceptor).scripts([script]).await.unwrap();
    let target = tls_target(peer.port(), "", "tls-s3cret", "mwi");
    let options = AmiOptions {
        ca_file: Some(pki.ca_file()),
        ..AmiOptions::default()
    };
    let mut ami = AmiNotifier::start(&target, options).unwrap();
    assert_eq!(ami.target(), format!("tls://127.0.0.1:{}", peer.port()));
    match ami_report(&mut ami).await {
        AmiReport::LoggedIn {
            target, version, ..
        } => assert_eq!((target.as_str(), version.as_str()), (ami.target(), "5.0.2")),
        other => panic!("{other:?}"),
    }
    ami.notify(&MwiEvent {
        counts: MwiCounts {
            new: 2,
            urgent: 1,
            old: 4,
            old_urgent: 0,
        },
        ..event("1234", 0, 0)
    });
    match ami_report(&mut ami).await {
        AmiReport::Answered {
            mailbox,
            action: "MWIUpdate",
            success: true,
            ..
        } => assert_eq!(mailbox, "1234@default"),
        other => panic!("{other:?}"),
    }
    ami.stop().await;
    let transcript = peer.finish().await.unwrap();
    assert_eq!(transcript.connections.len(), 1);
}

/// A self-signed PBX certificate is refused over `tls://` even with an `ami_cafile` (another
/// CA): one `Down` report naming the certificate, the secret never sent nor shown, the
/// link retried with its back-off. With `/novalidate-cert` the same PBX is accepted.
#[tokio::test]
async fn ami_over_tls_refuses_an_untrusted_certificate_unless_novalidate_cert() {
    let (log, _guard) = Capture::trace();
    let pki = Pki::new("ami-untrusted");
    let acceptor = Pki::acceptor(Pki::self_signed(&["127.0.0.1"]));
    let refused = Pki::peer_behind(acceptor.clone())
        .respond(|| lines("Asterisk Call Manager/5.0.2\r\n", |_| Reply::nothing()))
        .await
        .unwrap();
    let options = AmiOptions {
        ca_file: Some(pki.ca_file()),
        backoff_first: Duration::from_millis(100),
        backoff_max: Duration::from_millis(100),
        ..AmiOptions::default()
    };
    let target = tls_target(refused.port(), "", "never-on-the-wire", "refresh");
    let mut ami = AmiNotifier::start(&target, options.clone()).unwrap();
    match ami_report(&mut ami).await {
        AmiReport::Down { error, .. } => {
            assert!(error.contains("UnknownIssuer"), "{error}");
            assert!(!error.contains("never-on-the-wire"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // Retried with the back-off, and never a byte of AMI: the handshake fails first.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(refused.connections() >= 2, "retried");
    for n in 0..refused.connections() {
        assert!(refused.received(n).is_empty(), "connection {n} got bytes");
    }
    assert!(ami.try_report().is_none(), "one Down per outage");
    ami.stop().await;

    let script = Script::parse(
        "S: Asterisk Call Manager/5.0.2
         C: Action: Login
         C: ActionID: imapvm-1
         C: Username: imapvm
         C: Secret: s3cret
         C: Events: off
         C:
         S: Response: Success
         S: ActionID: imapvm-1
         S:
         C: Action: VoicemailRefresh
         C: ActionID: imapvm-2
         C: Context: default
         C: Mailbox: 1234
         C:
         S: Response: Success
         S: ActionID: imapvm-2
         S:
         C: Action: Logoff
         C: ActionID: imapvm-3
         C:
         S: Response: Goodbye
         S: ActionID: imapvm-3
         S:
         close",
    )
    .unwrap();
    let accepted = Pki::peer_behind(acceptor).scripts([script]).await.unwrap();
    let target = tls_target(accepted.port(), "/novalidate-cert", "s3cret", "refresh");
    let mut ami = AmiNotifier::start(&target, options).unwrap();
    assert!(matches!(
        ami_report(&mut ami).await,
        AmiReport::LoggedIn { .. }
    ));
    ami.notify(&event("1234", 1, 0));
    assert!(matches!(
        ami_report(&mut ami).await,
        AmiReport::Answered {
            success: true,
            action: "VoicemailRefresh",
            ..
        }
    ));
    ami.stop().await;
    accepted.finish().await.unwrap();

    let log = log.text();
    assert!(
        log.contains("novalidate-cert: the certificate is NOT verified"),
        "{log}"
    );
    assert!(log.contains("AMI link failed"), "{log}");
    // The protocol trace is captured, the login with it (its secret redacted).
    assert!(log.contains("Action: Login"), "{log}");
    assert!(!log.contains("never-on-the-wire"), "{log}");
    assert!(!log.contains("s3cret"), "{log}");
}
