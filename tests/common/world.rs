//! The sharing world of the TLP tests: one trust group with every kind of reader, another
//! group, an organisation in no group and an operator admin.

use std::collections::BTreeSet;

use serde_json::Value;
use taxii_hub::domain::model::{Membership, OrganisationKind, Role};
use taxii_hub::domain::tlp::Tlp;

use super::{ids_of, json_of, TestHub};

/// Every role of the sharing matrix, by username. `producer` and `peer` write to `intel`.
pub const ROLES: &[&str] =
    &["producer", "peer", "reader", "redistributor", "recipient", "other-group", "no-group", "admin"];

pub struct World {
    /// STIX identity of the organisation named as RED recipient.
    pub recipient_identity: String,
    pub producer_identity: String,
}

/// Builds the world on `hub`, with collection `intel` (default AMBER) in group Finance.
pub async fn sharing_world(hub: &mut TestHub) -> World {
    let (producer, producer_identity) = hub.add_org("Producer Bank", OrganisationKind::Partner).await;
    let (peer, _) = hub.add_org("Peer Bank", OrganisationKind::Partner).await;
    let (reader, _) = hub.add_org("Reader Telco", OrganisationKind::Partner).await;
    let (feeder, _) = hub.add_org("National CERT", OrganisationKind::NationalCert).await;
    let (recipient, recipient_identity) = hub.add_org("Recipient Energy", OrganisationKind::Partner).await;
    let (other, _) = hub.add_org("Other Sector", OrganisationKind::Partner).await;
    let (nogroup, _) = hub.add_org("Lonely Ministry", OrganisationKind::Partner).await;
    let (operator, _) = hub.add_org("Operator", OrganisationKind::Operator).await;
    let read = Membership { can_read: true, can_write: false };
    let rw = Membership { can_read: true, can_write: true };
    let group = hub
        .add_group("Finance", &[(producer, rw), (peer, rw), (reader, read), (feeder, read), (recipient, read)])
        .await;
    let other_group = hub.add_group("Energy", &[(other, rw)]).await;
    hub.add_collection("intel", group, Tlp::Amber).await;
    hub.add_collection("other", other_group, Tlp::Amber).await;
    hub.add_key_account("producer", producer, Role::Member, false).await;
    hub.add_key_account("peer", peer, Role::Member, false).await;
    hub.add_key_account("reader", reader, Role::Reader, false).await;
    hub.add_key_account("redistributor", feeder, Role::Reader, true).await;
    hub.add_key_account("recipient", recipient, Role::Member, false).await;
    hub.add_key_account("other-group", other, Role::Member, false).await;
    hub.add_key_account("no-group", nogroup, Role::Member, false).await;
    hub.add_key_account("admin", operator, Role::Admin, false).await;
    World { recipient_identity, producer_identity }
}

/// Every object version `user` can observe in `intel` (all versions, every page), as ids.
pub async fn visible_ids(hub: &TestHub, user: &str) -> BTreeSet<String> {
    let base = hub.collection_url("intel", "objects/");
    let mut url = format!("{base}?match[version]=all&limit=500");
    let mut seen = BTreeSet::new();
    loop {
        let (code, _, body) = json_of(hub.get(user, &url).send().await.unwrap()).await;
        if code != 200 {
            return seen;
        }
        seen.extend(ids_of(&body));
        match body["next"].as_str() {
            Some(next) if body["more"] == Value::Bool(true) => {
                url = format!("{base}?match[version]=all&limit=500&next={next}")
            }
            _ => return seen,
        }
    }
}

/// Which roles may see an object of this effective TLP posted by `producer`, with `recipient`
/// named when RED.
pub fn audience(tlp: Tlp) -> BTreeSet<&'static str> {
    let all_readers = ["producer", "peer", "reader", "redistributor", "recipient"];
    let allowed: &[&str] = match tlp {
        Tlp::Clear | Tlp::Green | Tlp::Amber => &all_readers,
        Tlp::AmberStrict => &["producer", "peer", "reader", "recipient"],
        Tlp::Red => &["producer", "recipient"],
    };
    allowed.iter().copied().collect()
}
