//! A minimal rtnetlink client, just enough for doctor's link test: list
//! links, create a bridge and a veth pair, attach one end to the bridge,
//! delete them. (The `net` module will grow the full netlink layer.)
//!
//! rtnetlink is a socket (`socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)`):
//! glassbox sends a request such as `RTM_NEWLINK` with attributes
//! (`IFLA_IFNAME`, `IFLA_LINKINFO` {kind "bridge"}) and the kernel answers
//! with an ACK or an error code; `ip link` does exactly this. Read
//! `rtnetlink(7)` and `netlink(7)`; watch it with `ip -d monitor link`.

use anyhow::{Context, Result, bail};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// An open `NETLINK_ROUTE` socket, bound to the caller's network namespace
/// (the one of the thread that opened it).
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    pub fn open() -> Result<Netlink> {
        let mut socket =
            Socket::new(NETLINK_ROUTE).context("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)")?;
        socket.bind_auto().context("bind the netlink socket")?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .context("connect the netlink socket to the kernel")?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Send one request and collect the answers: until `NLMSG_DONE` for a
    /// dump, until the ACK otherwise. A kernel error becomes an
    /// `io::Error` with its errno.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq += 1;
        let seq = self.seq;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags | if dump { 0 } else { NLM_F_ACK };
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .context("send(2) on the netlink socket")?;

        let mut answers = Vec::new();
        loop {
            let (data, _) = self
                .socket
                .recv_from_full()
                .context("recv(2) on the netlink socket")?;
            let mut offset = 0;
            while offset < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| anyhow::anyhow!("cannot decode a netlink answer: {e}"))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    bail!("netlink answer of length 0");
                }
                offset += (len + 3) & !3;
                if reply.header.sequence_number != seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) if e.code.is_none() => return Ok(answers),
                    NetlinkPayload::Error(e) => return Err(e.to_io().into()),
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::InnerMessage(m) => answers.push(m),
                    _ => {}
                }
            }
        }
    }

    /// The names of every link in this namespace (`ip -o link show`).
    pub fn link_names(&mut self) -> Result<Vec<String>> {
        let answers = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(answers
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => name_of(l),
                _ => None,
            })
            .collect())
    }

    /// The index of a link, or `None` if there is no such link.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(answers) => Ok(answers.iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn new_link(&mut self, name: &str, info: Vec<LinkInfo>) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes.push(LinkAttribute::LinkInfo(info));
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)?;
        Ok(())
    }

    /// `ip link add NAME type bridge`
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        self.new_link(name, vec![LinkInfo::Kind(InfoKind::Bridge)])
    }

    /// `ip link add NAME type veth peer name PEER`
    pub fn add_veth(&mut self, name: &str, peer: &str) -> Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg.attributes.push(LinkAttribute::IfName(peer.into()));
        self.new_link(
            name,
            vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
            ],
        )
    }

    /// `ip link set NAME master BRIDGE`
    pub fn set_master(&mut self, name: &str, bridge: &str) -> Result<()> {
        let index = self
            .link_index(name)?
            .with_context(|| format!("no link named {name}"))?;
        let master = self
            .link_index(bridge)?
            .with_context(|| format!("no link named {bridge}"))?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Controller(master));
        self.request(RouteNetlinkMessage::SetLink(msg), 0)?;
        Ok(())
    }

    /// The bridge a link is attached to, if any.
    pub fn master_of(&mut self, name: &str) -> Result<Option<u32>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        let answers = self.request(RouteNetlinkMessage::GetLink(msg), 0)?;
        Ok(answers.iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => l.attributes.iter().find_map(|a| match a {
                LinkAttribute::Controller(i) => Some(*i),
                _ => None,
            }),
            _ => None,
        }))
    }

    /// `ip link del NAME`; "no such link" is success.
    pub fn del_link(&mut self, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        match self.request(RouteNetlinkMessage::DelLink(msg), 0) {
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(()),
            r => r.map(|_| ()),
        }
    }
}

fn name_of(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

/// The errno carried by a netlink error, if it is one.
pub fn errno_of(e: &anyhow::Error) -> Option<i32> {
    e.chain()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .and_then(|io| io.raw_os_error())
}
