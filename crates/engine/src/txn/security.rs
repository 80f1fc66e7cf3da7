//! Acting for a role: privilege checks on table reads and writes, the
//! superuser rule for schema changes, and changes to roles and grants
//! (transactional, like DDL).

use std::sync::Arc;

use crate::commitlog::LogOp;
use crate::error::{Error, Result};
use crate::security::{Access, Privileges, Security};
use crate::txn::{Table, Transaction};

impl Transaction {
    /// Makes the transaction act for `role`: from now on every table read
    /// and write is checked against the role's privileges, and schema or
    /// role changes need a superuser. A transaction that never acts for a
    /// role is unrestricted (embedded use, trusted local connections).
    pub fn act_as(&mut self, role: &str) {
        self.access = Some(self.shared.access_cache.get(&self.catalog.security, role));
    }

    /// The access the transaction acts with (`None`: unrestricted).
    pub fn access(&self) -> Option<&Arc<Access>> {
        self.access.as_ref()
    }

    /// Roles, grants and API keys as this transaction sees them.
    pub fn security(&self) -> &Security {
        &self.catalog.security
    }

    /// Resolves the role's access again after the catalog changed.
    pub(crate) fn refresh_access(&mut self) {
        if let Some(access) = &self.access {
            let fresh = self.shared.access_cache.get(&self.catalog.security, access.role());
            if fresh != *access {
                self.access = Some(fresh);
            }
        }
    }

    /// Refuses `want` on `table` unless the acting role holds it.
    #[inline]
    pub(crate) fn check_privilege(&self, table: &Table, want: Privileges) -> Result<()> {
        match &self.access {
            None => Ok(()),
            Some(access) => access.check_table(table.id(), table.name(), want),
        }
    }

    /// Refuses a schema or role change (`what`) unless the acting role is a
    /// superuser.
    pub(crate) fn check_superuser(&self, what: &str) -> Result<()> {
        match &self.access {
            Some(access) if !access.is_superuser() => {
                Err(Error::PermissionDenied(format!("permission denied: {what} needs a superuser")))
            }
            _ => Ok(()),
        }
    }

    /// Changes roles, grants or API keys (a superuser's right), as one
    /// transactional step: the change is seen by this transaction at once
    /// and by others when it commits.
    pub fn alter_security(&mut self, what: &str, change: impl FnOnce(&mut Security) -> Result<()>) -> Result<()> {
        self.check_superuser(what)?;
        self.change_security(what, change)
    }

    /// Sets the acting role's own password verifier, which any role may do
    /// (`ALTER ROLE me PASSWORD …`); a superuser may set anyone's.
    pub fn set_password(&mut self, role: &str, verifier: Option<String>) -> Result<()> {
        if self.access.as_ref().is_some_and(|a| a.role() != role) {
            self.check_superuser("changing another role's password")?;
        }
        self.change_security("ALTER ROLE", |security| {
            security.alter_role(role, |r| {
                r.password = verifier;
                Ok(())
            })
        })
    }

    fn change_security(&mut self, what: &str, change: impl FnOnce(&mut Security) -> Result<()>) -> Result<()> {
        let mut catalog = self.begin_ddl_unchecked(what)?;
        self.guarded(|txn| {
            let mut security = (*catalog.security).clone();
            change(&mut security)?;
            catalog.security = Arc::new(security.clone());
            txn.catalog = Arc::new(catalog);
            txn.log_ddl(LogOp::Security(security))?;
            txn.refresh_access();
            Ok(())
        })
    }
}
