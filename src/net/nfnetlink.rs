//! One question to nf_tables over netlink, without starting `nft`: is
//! there a table of this name? `nft list table ip NAME` begins with the
//! same message, `NFT_MSG_GETTABLE` on a `NETLINK_NETFILTER` socket: the
//! kernel answers with the table (`NFT_MSG_NEWTABLE`) then an ack, or with
//! `ENOENT`. Starting `nft` costs milliseconds (it loads libnftables and
//! parses its answer); the question costs microseconds, and a container
//! asks it at every start. Read `netlink(7)`, and the kernel's
//! `include/uapi/linux/netfilter/nf_tables.h` and `nfnetlink.h`.

use anyhow::{Context, Result, bail};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

/// `NFNL_SUBSYS_NFTABLES`: the nf_tables subsystem of nfnetlink.
const SUBSYS_NFTABLES: u16 = 10;
/// `NFT_MSG_NEWTABLE`, `NFT_MSG_GETTABLE`.
const MSG_NEWTABLE: u16 = 0;
const MSG_GETTABLE: u16 = 1;
/// `NFTA_TABLE_NAME`.
const TABLE_NAME: u16 = 1;
/// `NLMSG_ERROR` (an error, or with error 0 an ack).
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
/// `NFPROTO_IPV4`: the `ip` family.
const FAMILY_IP: u8 = 2;

/// The request: a netlink header, nfnetlink's `nfgenmsg` (family,
/// version 0, resource id 0), and one attribute, the table's name.
pub fn get_table_request(table: &str, seq: u32) -> Vec<u8> {
    let name_len = table.len() + 1;
    let attr_len = 4 + name_len;
    let padded = (attr_len + 3) & !3;
    let len = 16 + 4 + padded;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&((SUBSYS_NFTABLES << 8) | MSG_GETTABLE).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[FAMILY_IP, 0, 0, 0]);
    m.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    m.extend_from_slice(&TABLE_NAME.to_ne_bytes());
    m.extend_from_slice(table.as_bytes());
    m.resize(len, 0);
    m
}

/// What the kernel's answer so far says.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The table came, then the ack: it exists.
    Found,
    /// `ENOENT`: no such table.
    Missing,
    /// Another error (an errno).
    Error(i32),
    /// Not finished: read on.
    More,
}

/// Read the messages in `buf` that answer request `seq`.
pub fn parse_answer(buf: &[u8], seq: u32, found: &mut bool) -> Answer {
    let mut at = 0;
    while at + 16 <= buf.len() {
        let word = |o: usize| u32::from_ne_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
        let len = word(at) as usize;
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        if len < 16 || at + len > buf.len() {
            return Answer::Error(libc::EBADMSG);
        }
        if word(at + 8) == seq {
            if kind == (SUBSYS_NFTABLES << 8) | MSG_NEWTABLE {
                *found = true;
            } else if kind == NLMSG_ERROR && len >= 20 {
                let errno = -(word(at + 16) as i32);
                return match errno {
                    0 if *found => Answer::Found,
                    0 | libc::ENOENT => Answer::Missing,
                    e => Answer::Error(e),
                };
            }
        }
        at += (len + 3) & !3;
    }
    Answer::More
}

/// Is there an nft table `ip TABLE` in this network namespace? Needs
/// CAP_NET_ADMIN, as `nft list` does (`EPERM` without it).
pub fn table_exists(table: &str) -> Result<bool> {
    let mut sock =
        Socket::new(NETLINK_NETFILTER).context("socket(AF_NETLINK, NETLINK_NETFILTER)")?;
    sock.bind_auto().context("bind the nfnetlink socket")?;
    let seq = 1;
    sock.send_to(&get_table_request(table, seq), &SocketAddr::new(0, 0), 0)
        .context("send NFT_MSG_GETTABLE")?;
    let mut found = false;
    loop {
        let (buf, _) = sock.recv_from_full().context("receive nf_tables' answer")?;
        match parse_answer(&buf, seq, &mut found) {
            Answer::Found => return Ok(true),
            Answer::Missing => return Ok(false),
            Answer::Error(e) => {
                return Err(std::io::Error::from_raw_os_error(e))
                    .with_context(|| format!("NFT_MSG_GETTABLE ip {table}"));
            }
            Answer::More if buf.is_empty() => {
                bail!("nf_tables closed the socket without an answer")
            }
            Answer::More => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let len = 16 + body.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m
    }

    fn error(seq: u32, errno: i32) -> Vec<u8> {
        let mut body = (-errno).to_ne_bytes().to_vec();
        body.extend_from_slice(&[0; 16]);
        answer(NLMSG_ERROR, seq, &body)
    }

    #[test]
    fn the_request_names_the_table_padded_to_four_bytes() {
        let m = get_table_request("glassbox_ab12", 7);
        assert_eq!(m.len() % 4, 0);
        assert_eq!(
            u32::from_ne_bytes([m[0], m[1], m[2], m[3]]) as usize,
            m.len()
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 0x0a01);
        assert_eq!(m[16], FAMILY_IP);
        assert_eq!(&m[24..24 + 13], b"glassbox_ab12");
        assert_eq!(m[24 + 13], 0);
    }

    #[test]
    fn a_table_then_an_ack_is_found_an_enoent_is_missing() {
        let mut found = false;
        let mut buf = answer(0x0a00, 1, &[2, 0, 0, 0]);
        assert_eq!(parse_answer(&buf, 1, &mut found), Answer::More);
        buf.extend(error(1, 0));
        let mut found = false;
        assert_eq!(parse_answer(&buf, 1, &mut found), Answer::Found);
        assert_eq!(
            parse_answer(&error(1, libc::ENOENT), 1, &mut false),
            Answer::Missing
        );
        assert_eq!(
            parse_answer(&error(1, libc::EPERM), 1, &mut false),
            Answer::Error(libc::EPERM)
        );
        // An answer to another request is not this one's.
        assert_eq!(
            parse_answer(&error(2, libc::ENOENT), 1, &mut false),
            Answer::More
        );
    }
}
