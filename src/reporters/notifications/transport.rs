//! oslo.messaging transport URLs: `rabbit://user:pass@host:port[,…]/vhost`
//! (also `amqp://`, and `amqps://` or `?ssl=1` for TLS).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportUrl {
    /// Tried in order, round robin.
    pub brokers: Vec<Broker>,
    pub virtual_host: String,
    pub tls: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid notifications.transport_url: {0}")]
pub struct UrlError(String);

fn decode(s: &str) -> Result<String, UrlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| UrlError(format!("bad escape in {s:?}")))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| UrlError(format!("bad escape in {s:?}")))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError(format!("{s:?} is not UTF-8")))
}

impl TransportUrl {
    pub fn parse(url: &str) -> Result<TransportUrl, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| UrlError("no scheme (rabbit://…)".into()))?;
        let mut tls = match scheme {
            "rabbit" | "amqp" => false,
            "amqps" => true,
            other => return Err(UrlError(format!("unsupported scheme {other:?}: use rabbit://, amqp:// or amqps://"))),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if k == "ssl" {
                tls = matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on");
            }
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let default_port = if tls { 5671 } else { 5672 };
        let mut brokers = Vec::new();
        for part in authority.split(',').filter(|p| !p.is_empty()) {
            let (creds, hostport) = match part.rsplit_once('@') {
                Some((c, h)) => (Some(c), h),
                None => (None, part),
            };
            let (user, password) = match creds {
                Some(c) => match c.split_once(':') {
                    Some((u, p)) => (decode(u)?, decode(p)?),
                    None => (decode(c)?, String::new()),
                },
                None => ("guest".to_string(), "guest".to_string()),
            };
            let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
                let (h, after) = v6.split_once(']').ok_or_else(|| UrlError(format!("bad host {hostport:?}")))?;
                (h.to_string(), after.strip_prefix(':'))
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), Some(p)),
                    None => (hostport.to_string(), None),
                }
            };
            if host.is_empty() {
                return Err(UrlError(format!("no host in {part:?}")));
            }
            let port = match port {
                Some(p) => p.parse().map_err(|_| UrlError(format!("bad port {p:?}")))?,
                None => default_port,
            };
            brokers.push(Broker { host, port, user, password });
        }
        if brokers.is_empty() {
            return Err(UrlError("no broker host".into()));
        }
        let vhost = decode(path)?;
        let virtual_host = if vhost.is_empty() { "/".to_string() } else { vhost };
        Ok(TransportUrl { brokers, virtual_host, tls })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oslo_forms() {
        let u = TransportUrl::parse("rabbit://guest:guest@127.0.0.1:5672/").unwrap();
        assert_eq!(
            u.brokers,
            vec![Broker { host: "127.0.0.1".into(), port: 5672, user: "guest".into(), password: "guest".into() }]
        );
        assert_eq!(u.virtual_host, "/");
        assert!(!u.tls);
        let u = TransportUrl::parse("rabbit://a:p%40ss@h1,b:q@[::1]:5673/ironic?ssl=1").unwrap();
        assert_eq!(u.brokers.len(), 2);
        assert_eq!((u.brokers[0].password.as_str(), u.brokers[0].port), ("p@ss", 5671));
        assert_eq!((u.brokers[1].host.as_str(), u.brokers[1].port), ("::1", 5673));
        assert_eq!(u.virtual_host, "ironic");
        assert!(u.tls);
        assert_eq!(TransportUrl::parse("amqp://h").unwrap().brokers[0].user, "guest");
        assert!(TransportUrl::parse("kafka://h").is_err());
        assert!(TransportUrl::parse("rabbit://u:p@h:notaport/").is_err());
        assert!(TransportUrl::parse("rabbit:///").is_err());
    }
}
