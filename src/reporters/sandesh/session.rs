//! The connection to the collectors: Sandesh's client state machine.
//!
//! Idle → Connect (next collector, round robin) → ClientInit (the control
//! hello is the first frame on the wire) → Established (on the collector's
//! `success=true`: every live UVE is re-sent, marked as a resync, then the
//! queue flows). A dropped connection goes back to Idle for a capped,
//! doubling back-off; while no session is up, queued messages are dropped
//! and counted, so the queue never stalls its producers.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};

use super::codec::{Deframer, frame};
use super::decode::decode_frame;
use super::generator::{Drop, Generator, Outgoing, SmState, now_us};
use super::messages::{
    self, CLIENT_UVE, CTRL_HELLO, HINT_CONTROL, HINT_KEY, HINT_SYNC, HeaderFields, Kind, Level, NODE_UVE,
};

/// The length of the frame an inner message came in.
fn framed(inner: &[u8]) -> usize {
    super::codec::FRAME_OPEN_LEN + inner.len() + super::codec::FRAME_CLOSE.len()
}

/// How a session ended.
enum End {
    /// The queue's senders are gone: the process is stopping.
    Stop,
    /// The connection is over; `established` says if it ever was.
    Closed { established: bool },
}

/// Runs until every producer handle is dropped.
pub(super) async fn run(g: Generator, mut rx: mpsc::Receiver<Outgoing>) {
    let collectors = g.settings().collectors.clone();
    if collectors.is_empty() {
        return;
    }
    let (min, max) = (g.settings().backoff_min, g.settings().backoff_max.max(g.settings().backoff_min));
    let mut backoff = min;
    let mut next = 0usize;
    loop {
        let target = collectors[next % collectors.len()].clone();
        next = next.wrapping_add(1);
        g.set_state(SmState::Connect, Some(&target), None);
        let wait = match timeout(g.settings().connect_timeout, TcpStream::connect(&target)).await {
            Ok(Ok(stream)) => match session(&g, stream, &target, &mut rx).await {
                End::Stop => return,
                End::Closed { established: true } => {
                    backoff = min;
                    min
                }
                End::Closed { established: false } => backoff,
            },
            Ok(Err(e)) => {
                g.set_error(format!("connect to {target}: {e}"));
                backoff
            }
            Err(_) => {
                g.set_error(format!("connect to {target}: timed out"));
                backoff
            }
        };
        g.set_state(SmState::Idle, None, None);
        if idle(&g, &mut rx, wait).await {
            return;
        }
        if wait == backoff {
            backoff = (backoff * 2).min(max);
        }
    }
}

/// Waits out the back-off, dropping what is queued meanwhile; true when
/// the process is stopping.
async fn idle(g: &Generator, rx: &mut mpsc::Receiver<Outgoing>, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        tokio::select! {
            _ = sleep_until(until) => return false,
            m = rx.recv() => match m {
                Some(m) => {
                    g.dequeued();
                    g.dropped(m.name, Drop::SessionNotConnected);
                }
                None => return true,
            },
        }
    }
}

fn encode(g: &Generator, m: &Outgoing, context: &str) -> Vec<u8> {
    let h = messages::header(
        g.identity(),
        HeaderFields {
            timestamp_us: m.timestamp_us,
            context,
            seq: m.seq,
            kind: m.kind,
            hints: m.hints,
            level: m.level,
        },
    );
    frame(&h, &m.body)
}

async fn write(g: &Generator, w: &mut BufWriter<OwnedWriteHalf>, m: &Outgoing, context: &str) -> std::io::Result<()> {
    let bytes = encode(g, m, context);
    match timeout(g.settings().write_timeout, w.write_all(&bytes)).await {
        Ok(Ok(())) => {
            g.sent(m.name, bytes.len());
            Ok(())
        }
        Ok(Err(e)) => {
            g.dropped(m.name, Drop::WriteFailed);
            Err(e)
        }
        Err(_) => {
            g.dropped(m.name, Drop::WriteFailed);
            Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the collector stopped reading"))
        }
    }
}

async fn flush(g: &Generator, w: &mut BufWriter<OwnedWriteHalf>) -> std::io::Result<()> {
    match timeout(g.settings().write_timeout, w.flush()).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the collector stopped reading")),
    }
}

/// The generator's own UVE, sent on each state change a collector sees.
fn client_state(g: &Generator, status: SmState) -> Option<Outgoing> {
    let c = g.connection();
    let info = messages::ClientInfo {
        status: status.as_str().into(),
        successful_connections: c.successful_connections,
        pid: std::process::id(),
        http_port: u32::from(g.settings().http_port),
        start_time_us: u64::try_from(g.shared.started_us).unwrap_or_default(),
        collector_name: c.collector.clone().unwrap_or_default(),
        collector_ip: c.collector_ip.clone().unwrap_or_default(),
        collector_list: g.settings().collectors.clone(),
    };
    let data = messages::module_client_state(g.identity(), &info, g.queue_depth(), g.max_queue_depth());
    // Through the cache, so introspect shows it and resyncs carry it.
    g.send_uve_direct(CLIENT_UVE, data)
}

/// Every cached UVE the collector's `type_info` does not already hold at
/// its current sequence number, as resync sends.
fn resync_cached(g: &Generator, type_info: &[(String, u32)]) -> Vec<Outgoing> {
    g.cache()
        .into_iter()
        .filter(|u| {
            let held = type_info.iter().find(|(t, _)| *t == u.data.name).map_or(0, |(_, s)| *s);
            held == 0 || i64::from(held) < i64::from(u.seq)
        })
        .map(|u| resync_send(u.message, u.seq, u.timestamp_us, u.data))
        .collect()
}

fn resync_send(message: &'static str, seq: i32, timestamp_us: i64, data: super::codec::Struct) -> Outgoing {
    Outgoing {
        name: message,
        kind: Kind::Uve,
        level: Level::Notice,
        hints: HINT_KEY | HINT_SYNC,
        seq,
        timestamp_us,
        body: messages::uve(message, data),
    }
}

/// UVEs per page when a type is resynced from its source.
const RESYNC_PAGE: usize = 500;

/// Sends every live UVE again: the cached ones, then each sourced type
/// page by page (read now, so the pages are current).
async fn resync(g: &Generator, w: &mut BufWriter<OwnedWriteHalf>, type_info: &[(String, u32)]) -> Result<(), String> {
    for m in resync_cached(g, type_info) {
        write(g, w, &m, "").await.map_err(|e| e.to_string())?;
    }
    for (message, _, source) in g.sources() {
        let mut after = None;
        loop {
            let page = source.page(after.clone(), RESYNC_PAGE).await?;
            let full = page.len() == RESYNC_PAGE;
            for data in page {
                after = super::generator::uve_key(&data);
                let m = resync_send(message, g.resync_seq(message), now_us(), data);
                write(g, w, &m, "").await.map_err(|e| e.to_string())?;
            }
            if !full {
                break;
            }
        }
    }
    flush(g, w).await.map_err(|e| e.to_string())
}

async fn session(g: &Generator, stream: TcpStream, target: &str, rx: &mut mpsc::Receiver<Outgoing>) -> End {
    let _ = stream.set_nodelay(true);
    let ip = stream.peer_addr().ok().map(|a| a.to_string());
    let (mut r, w) = stream.into_split();
    let mut w = BufWriter::with_capacity(64 * 1024, w);
    g.set_state(SmState::ClientInit, Some(target), ip);
    let conns = g.connection().successful_connections;
    let hello_body = messages::ctrl_hello(
        g.identity(),
        conns + 1,
        &[NODE_UVE, CLIENT_UVE],
        std::process::id(),
        u32::from(g.settings().http_port),
    );
    let hello = Outgoing {
        name: CTRL_HELLO,
        kind: Kind::Request,
        level: Level::Invalid,
        hints: HINT_CONTROL,
        seq: g.next_ctrl_seq(),
        timestamp_us: now_us(),
        body: hello_body,
    };
    if write(g, &mut w, &hello, "ctrl").await.is_err() || flush(g, &mut w).await.is_err() {
        g.set_error(format!("{target}: the connection closed before the hello was sent"));
        return End::Closed { established: false };
    }
    let handshake_deadline = Instant::now() + g.settings().handshake_timeout;
    let mut established = false;
    let mut deframer = Deframer::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            _ = sleep_until(handshake_deadline), if !established => {
                g.set_error(format!("{target}: no answer to the hello within {:?}", g.settings().handshake_timeout));
                return End::Closed { established };
            }
            n = r.read(&mut buf) => {
                let n = match n {
                    Ok(0) => {
                        g.set_error(format!("{target}: the collector closed the connection"));
                        return End::Closed { established };
                    }
                    Ok(n) => n,
                    Err(e) => {
                        g.set_error(format!("{target}: {e}"));
                        return End::Closed { established };
                    }
                };
                deframer.push(&buf[..n]);
                loop {
                    let inner = match deframer.next_frame() {
                        Ok(Some(f)) => f,
                        Ok(None) => break,
                        Err(e) => {
                            g.set_error(format!("{target}: {e}"));
                            return End::Closed { established };
                        }
                    };
                    let Ok((_, body)) = decode_frame(&inner) else {
                        g.received("undecodable", framed(&inner));
                        continue;
                    };
                    let Some(reply) = messages::parse_ctrl_reply(&body) else {
                        // Requests from the collector are not served over the session.
                        g.received("other", framed(&inner));
                        continue;
                    };
                    g.received(messages::CTRL_REPLY, framed(&inner));
                    if !reply.success {
                        g.set_error(format!("{target}: the collector refused the generator"));
                        return End::Closed { established };
                    }
                    if !established {
                        established = true;
                        g.set_state(SmState::Established, None, None);
                        tracing::info!(collector = target, "sandesh session established");
                    }
                    // The generator's own UVE goes into the cache first, so
                    // the resync a control message asks for carries it too.
                    let _ = client_state(g, SmState::Established);
                    if let Err(e) = resync(g, &mut w, &reply.type_info).await {
                        g.set_error(format!("{target}: resync: {e}"));
                        return End::Closed { established };
                    }
                }
            }
            m = rx.recv() => {
                let Some(m) = m else { return End::Stop };
                g.dequeued();
                if !established {
                    g.dropped(m.name, Drop::WrongClientSmState);
                    continue;
                }
                let mut next = Some(m);
                // Write what is queued, then flush once.
                while let Some(m) = next.take() {
                    if let Err(e) = write(g, &mut w, &m, "").await {
                        g.set_error(format!("{target}: {e}"));
                        return End::Closed { established };
                    }
                    if let Ok(more) = rx.try_recv() {
                        g.dequeued();
                        next = Some(more);
                    }
                }
                if let Err(e) = flush(g, &mut w).await {
                    g.set_error(format!("{target}: {e}"));
                    return End::Closed { established };
                }
            }
        }
    }
}
