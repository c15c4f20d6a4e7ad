//! A connection's TCP socket that sends registered content windows with `sendfile` ([`crate::zerocopy`])
//! and writes everything else as usual. hyper writes through it with vectored writes (its queue strategy,
//! since the socket says it is vectored), so a download's window reaches it as one slice, never copied
//! into hyper's buffer. A call writes either the plain slices before the first window, or (part of) that
//! window, and returns the count like any partial write: hyper then calls again with the rest.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::zerocopy::{lookup, Source};

/// A TCP stream whose writes of registered windows go by `sendfile`.
pub(super) struct ZeroCopyStream {
    inner: TcpStream,
    /// Bytes this stream sent with `sendfile`.
    #[cfg_attr(not(test), allow(dead_code))]
    sent: u64,
}

impl ZeroCopyStream {
    pub(super) fn new(inner: TcpStream) -> Self {
        Self { inner, sent: 0 }
    }

    /// Sends (part of) `len` bytes of `source` once the socket can take some.
    #[cfg(target_os = "linux")]
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        source: &Source,
        fallback: &[u8],
    ) -> Poll<io::Result<usize>> {
        use std::os::fd::AsRawFd;
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            let socket = self.inner.as_raw_fd();
            let sent = self.inner.try_io(Interest::WRITABLE, || {
                crate::zerocopy::sendfile(socket, &source.file, source.offset, fallback.len())
            });
            match sent {
                Ok(n) => {
                    self.sent += n as u64;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                // A file system that cannot sendfile: the slice is written from the mapping instead.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                    return Pin::new(&mut self.inner).poll_write(cx, fallback);
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        _source: &Source,
        fallback: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, fallback)
    }
}

impl AsyncRead for ZeroCopyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match lookup(buf) {
            Some(source) => self.poll_send(cx, &source, buf),
            None => Pin::new(&mut self.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut plain = 0;
        for (i, buf) in bufs.iter().enumerate() {
            if let Some(source) = lookup(buf) {
                // The plain bytes before the window go first; a call never writes both, so that its
                // count is one system call's.
                if plain > 0 {
                    return Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs[..i]);
                }
                return self.poll_send(cx, &source, buf);
            }
            plain += buf.len();
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A connected pair on loopback: ours wrapped, the peer plain.
    async fn pair() -> (ZeroCopyStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted, connected) = tokio::join!(listener.accept(), TcpStream::connect(addr));
        (ZeroCopyStream::new(accepted.unwrap().0), connected.unwrap())
    }

    /// Writes `bufs` in full the way hyper does: vectored calls, advancing by each returned count.
    async fn write_all_vectored(stream: &mut ZeroCopyStream, bufs: &[Bytes]) {
        let mut bufs: Vec<Bytes> = bufs.to_vec();
        while bufs.iter().any(|b| !b.is_empty()) {
            let slices: Vec<io::IoSlice<'_>> = bufs.iter().map(|b| io::IoSlice::new(b)).collect();
            let mut n = stream.write_vectored(&slices).await.unwrap();
            assert!(n > 0);
            for b in &mut bufs {
                let take = n.min(b.len());
                *b = b.slice(take..);
                n -= take;
            }
        }
        stream.flush().await.unwrap();
    }

    #[tokio::test]
    async fn windows_go_by_sendfile_and_the_bytes_are_those_of_a_plain_write() {
        let tokio_test = async {
            let content: Vec<u8> = (0..6 * 1024 * 1024 + 77).map(|i| (i % 253) as u8).collect();
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&content).unwrap();
            let file = Arc::new(f);
            let (first, second) = (4097, 3 * 1024 * 1024);
            let a = unsafe { crate::zerocopy::map(&file, first, 1_000_000) }.unwrap();
            let b = unsafe { crate::zerocopy::map(&file, second, 3 * 1024 * 1024 + 77) }.unwrap();
            let head = Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n");
            let tail = Bytes::from_static(b"\r\n0\r\n\r\n");
            let bufs = [head.clone(), a, Bytes::from_static(b"-"), b, tail.clone()];
            let mut expected = head.to_vec();
            expected.extend_from_slice(&content[first as usize..first as usize + 1_000_000]);
            expected.push(b'-');
            expected.extend_from_slice(&content[second as usize..]);
            expected.extend_from_slice(&tail);

            let (mut ours, mut peer) = pair().await;
            // The peer reads slowly at first, so that the socket fills and sendfile stops short.
            let reader = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut got = Vec::new();
                peer.read_to_end(&mut got).await.unwrap();
                got
            });
            write_all_vectored(&mut ours, &bufs).await;
            let sent = ours.sent;
            ours.shutdown().await.unwrap();
            drop(ours);
            let got = reader.await.unwrap();
            assert_eq!(got.len(), expected.len());
            assert!(got == expected, "the bytes differ");
            if cfg!(target_os = "linux") {
                assert_eq!(
                    sent,
                    1_000_000 + 3 * 1024 * 1024 + 77,
                    "the windows went by sendfile"
                );
            }
        };
        tokio::time::timeout(Duration::from_secs(30), tokio_test)
            .await
            .expect("bounded in time");
    }
}
