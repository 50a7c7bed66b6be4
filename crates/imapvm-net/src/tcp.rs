//! TCP settings every connection of imapvm carries: the runtime's IMAP connections and the
//! services' AMI, webhook and FastAGI links.

use std::time::Duration;

use tokio::net::TcpStream;

/// Idle time before the kernel's first keepalive probe.
pub const KEEPALIVE_TIME: Duration = Duration::from_secs(60);
/// Between probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the kernel gives up on the connection.
pub const KEEPALIVE_PROBES: u32 = 3;

/// TCP keepalive on `tcp`: a peer host that vanishes without closing the connection (power
/// loss, a dropped NAT mapping) is noticed after about
/// `KEEPALIVE_TIME + KEEPALIVE_PROBES * KEEPALIVE_INTERVAL` (90 s) of silence, also while
/// IMAP IDLE waits with no read deadline. A peer process that hangs with its host up is
/// the core's to notice (the IMAP core's `idle_silence` probe). Failing to set it is not
/// an error.
pub fn set_keepalive(tcp: &TcpStream) {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_TIME)
        .with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "macos"
    ))]
    let keepalive = keepalive.with_retries(KEEPALIVE_PROBES);
    if let Err(e) = socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "cannot set TCP keepalive");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_carry_tcp_keepalive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let sock = socket2::SockRef::from(&tcp);
        assert!(
            !sock.keepalive().unwrap(),
            "off by default, so the check below means something"
        );
        set_keepalive(&tcp);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), KEEPALIVE_TIME);
        #[cfg(target_os = "linux")]
        {
            assert_eq!(sock.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
            assert_eq!(sock.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        }
    }
}
