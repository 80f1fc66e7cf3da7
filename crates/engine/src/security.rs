//! Roles, table privileges and API keys: who may log in and what each may
//! read or write.
//!
//! The [`Security`] catalog is part of the schema catalog, so role and
//! grant changes are transactional, logged and checkpointed like DDL, and a
//! grant on a dropped table goes with it. Secrets are stored as the text
//! the front ends verify against (`SCRAM-SHA-256$…` or `md5…` verifiers,
//! argon2 hashes of API keys); this module never sees a password.
//!
//! A transaction acting for a role ([`crate::Transaction::act_as`]) resolves
//! the role's [`Access`] once: the union of its own grants, those of every
//! role it is a member of (transitively), and `PUBLIC`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::TableId;

/// The predefined role that may read every table and the key-value store.
pub const PG_READ_ALL_DATA: &str = "pg_read_all_data";
/// The predefined role that may write every table and the key-value store.
pub const PG_WRITE_ALL_DATA: &str = "pg_write_all_data";
/// The pseudo-role every role belongs to (`GRANT … TO PUBLIC`).
pub const PUBLIC: &str = "public";

/// Whether `name` is a predefined role, which always exists and cannot be
/// created, changed or dropped.
pub fn is_predefined(name: &str) -> bool {
    matches!(name, PG_READ_ALL_DATA | PG_WRITE_ALL_DATA | PUBLIC)
}

/// A set of table privileges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Privileges(u8);

impl Privileges {
    /// None.
    pub const NONE: Privileges = Privileges(0);
    /// Read rows.
    pub const SELECT: Privileges = Privileges(1);
    /// Add rows.
    pub const INSERT: Privileges = Privileges(2);
    /// Change rows.
    pub const UPDATE: Privileges = Privileges(4);
    /// Remove rows.
    pub const DELETE: Privileges = Privileges(8);
    /// Empty the table.
    pub const TRUNCATE: Privileges = Privileges(16);
    /// Every privilege (`ALL`).
    pub const ALL: Privileges = Privileges(31);
    /// What `pg_write_all_data` grants on every table.
    pub const WRITE: Privileges = Privileges(2 | 4 | 8);

    const NAMES: [(Privileges, &'static str); 5] = [
        (Privileges::SELECT, "SELECT"),
        (Privileges::INSERT, "INSERT"),
        (Privileges::UPDATE, "UPDATE"),
        (Privileges::DELETE, "DELETE"),
        (Privileges::TRUNCATE, "TRUNCATE"),
    ];

    /// Whether every privilege of `other` is in `self`.
    pub fn contains(self, other: Privileges) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together.
    pub fn union(self, other: Privileges) -> Privileges {
        Privileges(self.0 | other.0)
    }

    /// `self` without `other`.
    pub fn without(self, other: Privileges) -> Privileges {
        Privileges(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A privilege by its SQL name (`select`, `insert`, …).
    pub fn by_name(name: &str) -> Option<Privileges> {
        Privileges::NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(p, _)| *p)
    }

    /// The SQL names of the privileges in the set.
    pub fn names(self) -> Vec<&'static str> {
        Privileges::NAMES.iter().filter(|(p, _)| self.contains(*p)).map(|(_, n)| *n).collect()
    }
}

impl fmt::Display for Privileges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(", "))
    }
}

/// A role (a user is a role that may log in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// Name (case as given; SQL folds unquoted names to lower case).
    pub name: String,
    /// Bypasses every privilege check and may change the schema and roles.
    pub superuser: bool,
    /// May open sessions.
    pub login: bool,
    /// The password verifier (`SCRAM-SHA-256$…` or `md5…`), if any.
    pub password: Option<String>,
    /// After this time (µs since 2000-01-01) the password no longer works.
    pub valid_until: Option<i64>,
    /// Roles whose privileges this one has.
    pub member_of: BTreeSet<String>,
}

impl Role {
    /// A role that cannot log in and has no privileges.
    pub fn new(name: impl Into<String>) -> Role {
        Role {
            name: name.into(),
            superuser: false,
            login: false,
            password: None,
            valid_until: None,
            member_of: BTreeSet::new(),
        }
    }
}

/// An API key for the HTTP front end: a secret bound to a role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public identifier (part of the key the client sends).
    pub id: String,
    /// The role requests with this key act for.
    pub role: String,
    /// argon2 hash of the secret part (PHC string).
    pub hash: String,
    /// When it was made (µs since 2000-01-01).
    pub created_at: i64,
    /// When it stops working (µs since 2000-01-01), if ever.
    pub expires_at: Option<i64>,
    /// What it is for (free text).
    pub comment: String,
}

/// Every role, grant and API key, as of one catalog version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Security {
    roles: BTreeMap<String, Role>,
    /// Table privileges by grantee, then table.
    grants: BTreeMap<String, BTreeMap<TableId, Privileges>>,
    api_keys: BTreeMap<String, ApiKey>,
}

impl Security {
    /// A role by name (predefined roles are not stored).
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }

    /// Every stored role, by name.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// Whether a role of this name exists (stored or predefined).
    pub fn role_exists(&self, name: &str) -> bool {
        is_predefined(name) || self.roles.contains_key(name)
    }

    /// Adds a role; its name must be new.
    pub fn create_role(&mut self, role: Role) -> Result<()> {
        if self.role_exists(&role.name) {
            return Err(Error::DuplicateObject(format!("role \"{}\" already exists", role.name)));
        }
        self.check_members(&role.name, &role.member_of)?;
        self.roles.insert(role.name.clone(), role);
        Ok(())
    }

    /// Changes a stored role in place.
    pub fn alter_role(&mut self, name: &str, change: impl FnOnce(&mut Role) -> Result<()>) -> Result<()> {
        if is_predefined(name) {
            return Err(Error::PermissionDenied(format!("cannot alter predefined role \"{name}\"")));
        }
        let mut role = self.roles.get(name).cloned().ok_or_else(|| undefined_role(name))?;
        change(&mut role)?;
        self.check_members(&role.name, &role.member_of)?;
        if role.name != name {
            if self.role_exists(&role.name) {
                return Err(Error::DuplicateObject(format!("role \"{}\" already exists", role.name)));
            }
            self.rename_references(name, &role.name);
            self.roles.remove(name);
        }
        self.roles.insert(role.name.clone(), role);
        Ok(())
    }

    /// Drops a role with its grants and API keys; roles that were members
    /// of it lose that membership.
    pub fn drop_role(&mut self, name: &str) -> Result<()> {
        if is_predefined(name) {
            return Err(Error::PermissionDenied(format!("cannot drop predefined role \"{name}\"")));
        }
        self.roles.remove(name).ok_or_else(|| undefined_role(name))?;
        self.grants.remove(name);
        self.api_keys.retain(|_, k| k.role != name);
        for role in self.roles.values_mut() {
            role.member_of.remove(name);
        }
        Ok(())
    }

    /// Makes `member` a member of `group` (`GRANT group TO member`).
    pub fn grant_role(&mut self, group: &str, member: &str) -> Result<()> {
        if !self.role_exists(group) || group == PUBLIC {
            return Err(undefined_role(group));
        }
        self.alter_role(member, |role| {
            role.member_of.insert(group.to_owned());
            Ok(())
        })
    }

    /// Ends a membership (`REVOKE group FROM member`).
    pub fn revoke_role(&mut self, group: &str, member: &str) -> Result<()> {
        if !self.role_exists(group) {
            return Err(undefined_role(group));
        }
        self.alter_role(member, |role| {
            role.member_of.remove(group);
            Ok(())
        })
    }

    /// Adds privileges on a table to a role (or `PUBLIC`).
    pub fn grant(&mut self, grantee: &str, table: TableId, privileges: Privileges) -> Result<()> {
        if !self.role_exists(grantee) {
            return Err(undefined_role(grantee));
        }
        let entry = self.grants.entry(grantee.to_owned()).or_default().entry(table).or_default();
        *entry = entry.union(privileges);
        Ok(())
    }

    /// Takes privileges on a table from a role (or `PUBLIC`).
    pub fn revoke(&mut self, grantee: &str, table: TableId, privileges: Privileges) -> Result<()> {
        if !self.role_exists(grantee) {
            return Err(undefined_role(grantee));
        }
        if let Some(tables) = self.grants.get_mut(grantee) {
            if let Some(p) = tables.get_mut(&table) {
                *p = p.without(privileges);
                if p.is_empty() {
                    tables.remove(&table);
                }
            }
            if tables.is_empty() {
                self.grants.remove(grantee);
            }
        }
        Ok(())
    }

    /// The privileges granted directly to `grantee` on each table.
    pub fn grants_of(&self, grantee: &str) -> impl Iterator<Item = (TableId, Privileges)> + '_ {
        self.grants.get(grantee).into_iter().flat_map(|t| t.iter().map(|(id, p)| (*id, *p)))
    }

    /// Every grant: grantee, table, privileges.
    pub fn grants(&self) -> impl Iterator<Item = (&str, TableId, Privileges)> + '_ {
        self.grants.iter().flat_map(|(role, t)| t.iter().map(move |(id, p)| (role.as_str(), *id, *p)))
    }

    /// Forgets the grants on a dropped table.
    pub(crate) fn forget_table(&mut self, table: TableId) {
        for tables in self.grants.values_mut() {
            tables.remove(&table);
        }
        self.grants.retain(|_, t| !t.is_empty());
    }

    /// Stores an API key; its role must exist and its id be new.
    pub fn add_api_key(&mut self, key: ApiKey) -> Result<()> {
        if !self.roles.contains_key(&key.role) {
            return Err(undefined_role(&key.role));
        }
        if self.api_keys.contains_key(&key.id) {
            return Err(Error::DuplicateObject(format!("API key \"{}\" already exists", key.id)));
        }
        self.api_keys.insert(key.id.clone(), key);
        Ok(())
    }

    /// Removes an API key; whether it existed.
    pub fn remove_api_key(&mut self, id: &str) -> bool {
        self.api_keys.remove(id).is_some()
    }

    /// An API key by id.
    pub fn api_key(&self, id: &str) -> Option<&ApiKey> {
        self.api_keys.get(id)
    }

    /// Every API key, by id.
    pub fn api_keys(&self) -> impl Iterator<Item = &ApiKey> {
        self.api_keys.values()
    }

    /// Every role `name` has the privileges of: itself and, transitively,
    /// the roles it is a member of (not `PUBLIC`).
    pub fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![name.to_owned()];
        while let Some(role) = stack.pop() {
            if !seen.insert(role.clone()) {
                continue;
            }
            if let Some(r) = self.roles.get(&role) {
                stack.extend(r.member_of.iter().cloned());
            }
        }
        seen
    }

    /// What `role` may do, resolved through its memberships.
    pub fn access(&self, role: &str) -> Access {
        let members = self.closure(role);
        let superuser = members.iter().any(|r| self.roles.get(r).is_some_and(|r| r.superuser));
        let mut tables: HashMap<TableId, Privileges> = HashMap::new();
        for grantee in members.iter().map(String::as_str).chain([PUBLIC]) {
            for (id, p) in self.grants_of(grantee) {
                let entry = tables.entry(id).or_default();
                *entry = entry.union(p);
            }
        }
        Access {
            role: role.to_owned(),
            superuser,
            read_all: members.contains(PG_READ_ALL_DATA),
            write_all: members.contains(PG_WRITE_ALL_DATA),
            tables,
        }
    }

    /// Refuses memberships in unknown roles, in `PUBLIC`, and ones that
    /// would make a role a member of itself.
    fn check_members(&self, name: &str, member_of: &BTreeSet<String>) -> Result<()> {
        for group in member_of {
            if group == PUBLIC || !self.role_exists(group) {
                return Err(undefined_role(group));
            }
            if group == name || self.closure(group).contains(name) {
                return Err(Error::InvalidGrant(format!(
                    "role \"{group}\" is a member of role \"{name}\"; a membership loop is not allowed"
                )));
            }
        }
        Ok(())
    }

    fn rename_references(&mut self, from: &str, to: &str) {
        if let Some(g) = self.grants.remove(from) {
            self.grants.insert(to.to_owned(), g);
        }
        for key in self.api_keys.values_mut().filter(|k| k.role == from) {
            to.clone_into(&mut key.role);
        }
        for role in self.roles.values_mut() {
            if role.member_of.remove(from) {
                role.member_of.insert(to.to_owned());
            }
        }
    }
}

/// Resolved accesses of one [`Security`] version by role, so a transaction
/// acting for a role does not walk memberships and grants each time it
/// begins. A new version (any role or grant change) empties it.
#[derive(Default)]
pub(crate) struct AccessCache {
    entries: parking_lot::Mutex<CachedAccesses>,
}

/// The version a cache holds accesses of, and the accesses by role.
#[derive(Default)]
struct CachedAccesses {
    version: Option<std::sync::Arc<Security>>,
    by_role: HashMap<String, std::sync::Arc<Access>>,
}

/// Roles a cache keeps at most before it starts over.
const CACHED_ROLES: usize = 1024;

impl AccessCache {
    /// `role`'s access under `security`.
    pub(crate) fn get(&self, security: &std::sync::Arc<Security>, role: &str) -> std::sync::Arc<Access> {
        let mut entries = self.entries.lock();
        let CachedAccesses { version, by_role } = &mut *entries;
        if !version.as_ref().is_some_and(|v| std::sync::Arc::ptr_eq(v, security)) {
            *version = Some(security.clone());
            by_role.clear();
        }
        if let Some(access) = by_role.get(role) {
            return access.clone();
        }
        if by_role.len() >= CACHED_ROLES {
            by_role.clear();
        }
        let access = std::sync::Arc::new(security.access(role));
        by_role.insert(role.to_owned(), access.clone());
        access
    }
}

fn undefined_role(name: &str) -> Error {
    Error::UndefinedObject { kind: "role", name: name.to_owned() }
}

/// What one role may do, resolved once per catalog version.
#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    role: String,
    superuser: bool,
    read_all: bool,
    write_all: bool,
    tables: HashMap<TableId, Privileges>,
}

impl Access {
    /// Access without limits, for `role`.
    pub fn superuser(role: &str) -> Access {
        Access { role: role.to_owned(), superuser: true, read_all: true, write_all: true, tables: HashMap::new() }
    }

    /// The role this access is for.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Whether the role is (or is a member of) a superuser.
    pub fn is_superuser(&self) -> bool {
        self.superuser
    }

    /// The privileges the role has on a table.
    pub fn table(&self, table: TableId) -> Privileges {
        if self.superuser {
            return Privileges::ALL;
        }
        let mut p = self.tables.get(&table).copied().unwrap_or_default();
        if self.read_all {
            p = p.union(Privileges::SELECT);
        }
        if self.write_all {
            p = p.union(Privileges::WRITE);
        }
        p
    }

    /// Whether the role may read the key-value store.
    pub fn can_read_kv(&self) -> bool {
        self.superuser || self.read_all
    }

    /// Whether the role may write the key-value store.
    pub fn can_write_kv(&self) -> bool {
        self.superuser || self.write_all
    }

    /// Refuses `want` on `table` (named `name` in the error) unless held.
    pub fn check_table(&self, table: TableId, name: &str, want: Privileges) -> Result<()> {
        if self.table(table).contains(want) {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!("permission denied for table {name}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security() -> Security {
        let mut s = Security::default();
        let mut admin = Role::new("admin");
        admin.superuser = true;
        s.create_role(admin).unwrap();
        s.create_role(Role::new("readers")).unwrap();
        s.create_role(Role::new("alice")).unwrap();
        s
    }

    #[test]
    fn privileges_come_from_memberships_and_public() {
        let mut s = security();
        s.grant("readers", 7, Privileges::SELECT).unwrap();
        s.grant(PUBLIC, 8, Privileges::INSERT).unwrap();
        s.grant_role("readers", "alice").unwrap();
        let a = s.access("alice");
        assert_eq!(a.table(7), Privileges::SELECT);
        assert_eq!(a.table(8), Privileges::INSERT);
        assert_eq!(a.table(9), Privileges::NONE);
        assert!(!a.can_read_kv());
        assert!(s.access("admin").table(9).contains(Privileges::ALL));
        s.revoke_role("readers", "alice").unwrap();
        assert_eq!(s.access("alice").table(7), Privileges::NONE);
    }

    #[test]
    fn predefined_roles_cover_every_table_and_the_keys() {
        let mut s = security();
        s.grant_role(PG_READ_ALL_DATA, "alice").unwrap();
        let a = s.access("alice");
        assert_eq!(a.table(42), Privileges::SELECT);
        assert!(a.can_read_kv() && !a.can_write_kv());
        s.grant_role(PG_WRITE_ALL_DATA, "alice").unwrap();
        let a = s.access("alice");
        assert!(a.table(42).contains(Privileges::WRITE) && a.can_write_kv());
        assert!(a.check_table(42, "t", Privileges::TRUNCATE).is_err());
    }

    #[test]
    fn membership_loops_and_unknown_roles_are_refused() {
        let mut s = security();
        s.grant_role("readers", "alice").unwrap();
        assert!(s.grant_role("alice", "readers").is_err());
        assert!(s.grant_role("alice", "alice").is_err());
        assert!(s.grant_role("nobody", "alice").is_err());
        assert!(s.grant("nobody", 1, Privileges::SELECT).is_err());
        assert!(s.create_role(Role::new("alice")).is_err());
        assert!(s.drop_role(PG_READ_ALL_DATA).is_err());
    }

    #[test]
    fn dropping_and_renaming_carry_grants_and_keys() {
        let mut s = security();
        s.grant("alice", 3, Privileges::ALL).unwrap();
        let key = ApiKey {
            id: "k1".into(),
            role: "alice".into(),
            hash: "h".into(),
            created_at: 0,
            expires_at: None,
            comment: String::new(),
        };
        s.add_api_key(key).unwrap();
        s.alter_role("alice", |r| {
            r.name = "carol".into();
            Ok(())
        })
        .unwrap();
        assert_eq!(s.access("carol").table(3), Privileges::ALL);
        assert_eq!(s.api_key("k1").map(|k| k.role.as_str()), Some("carol"));
        s.forget_table(3);
        assert_eq!(s.access("carol").table(3), Privileges::NONE);
        s.drop_role("carol").unwrap();
        assert!(s.api_key("k1").is_none());
    }
}
