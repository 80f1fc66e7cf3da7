//! Users, roles and privileges in SQL: `CREATE/ALTER/DROP ROLE|USER`,
//! `GRANT/REVOKE` of table privileges and of role memberships, and API
//! keys for the HTTP front end (`CALL memdb_create_api_key(…)`).
//!
//! The statements change the engine's security catalog (see
//! `memdb_engine::security`), so they are transactional like DDL; each is
//! also written to the audit log (target `memdb::audit`).

use std::sync::Arc;

use memdb_engine::security::{self, ApiKey, Privileges, Role};
use memdb_engine::{DataType, Transaction, Value};
use sqlparser::ast;

use super::{QueryResult, Session};
use crate::bind::{Binder, OutputColumn, ident_name, object_name};
use crate::error::{Result, SqlError};
use crate::exec::ExecCtx;

/// The audit log's target: logins, schema and role changes.
pub const AUDIT_TARGET: &str = "memdb::audit";

impl Session {
    /// Runs a role or privilege statement; `None` for other statements.
    pub(super) fn role_statement(
        &mut self,
        txn: &mut Transaction,
        stmt: &ast::Statement,
    ) -> Result<Option<QueryResult>> {
        let tag = match stmt {
            ast::Statement::CreateRole(create) => self.create_role(txn, create)?,
            ast::Statement::AlterRole { name, operation } => self.alter_role(txn, &ident_name(name), operation)?,
            ast::Statement::Drop {
                object_type: ast::ObjectType::Role | ast::ObjectType::User,
                if_exists,
                names,
                ..
            } => self.drop_roles(txn, *if_exists, names)?,
            ast::Statement::Grant(grant) => {
                grant_or_revoke(txn, &grant.privileges, grant.objects.as_ref(), &grant.grantees, true)?;
                if grant.with_grant_option {
                    return Err(SqlError::FeatureNotSupported("WITH GRANT OPTION (only superusers grant)".into()));
                }
                "GRANT"
            }
            ast::Statement::Revoke(revoke) => {
                grant_or_revoke(txn, &revoke.privileges, revoke.objects.as_ref(), &revoke.grantees, false)?;
                "REVOKE"
            }
            _ => return Ok(None),
        };
        tracing::info!(target: AUDIT_TARGET, user = %self.vars.user, "{tag}: {}", redacted(stmt));
        Ok(Some(QueryResult::tag(tag)))
    }

    /// `CALL grant_role(group, member)` and friends (what `GRANT role TO
    /// member` is rewritten to) and the API key procedures; `None` for
    /// other procedures.
    pub(super) fn role_procedure(
        &mut self,
        txn: &mut Transaction,
        name: &str,
        args: &[Value],
    ) -> Result<Option<QueryResult>> {
        let result = match (name, args) {
            ("grant_role", [Value::Text(group), Value::Text(member)]) => {
                txn.alter_security("GRANT", |s| s.grant_role(group, member))?;
                QueryResult::tag("GRANT ROLE")
            }
            ("revoke_role", [Value::Text(group), Value::Text(member)]) => {
                txn.alter_security("REVOKE", |s| s.revoke_role(group, member))?;
                QueryResult::tag("REVOKE ROLE")
            }
            ("memdb_create_api_key", [Value::Text(role), rest @ ..]) if rest.len() <= 2 => {
                self.create_api_key(txn, role, rest)?
            }
            ("memdb_drop_api_key", [Value::Text(id)]) => {
                let mut found = false;
                txn.alter_security("dropping an API key", |s| {
                    found = s.remove_api_key(id);
                    Ok(())
                })?;
                if !found {
                    return Err(memdb_engine::Error::UndefinedObject { kind: "API key", name: id.clone() }.into());
                }
                QueryResult::tag("CALL")
            }
            _ => return Ok(None),
        };
        tracing::info!(target: AUDIT_TARGET, user = %self.vars.user, "CALL {name}({})", describe_args(name, args));
        Ok(Some(result))
    }

    /// `CALL memdb_create_api_key(role [, comment [, valid_for]])`: makes a
    /// key for `role`, returned once as a row (`id`, `key`, `role`,
    /// `expires_at`); only its hash is stored.
    fn create_api_key(&mut self, txn: &mut Transaction, role: &str, rest: &[Value]) -> Result<QueryResult> {
        let comment = match rest.first() {
            Some(Value::Text(c)) => c.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => {
                return Err(SqlError::DatatypeMismatch(format!("API key comment must be text, not {other}")));
            }
        };
        let lifetime = match rest.get(1) {
            None | Some(Value::Null) => None,
            Some(Value::Text(t)) => Some(memdb_engine::Interval::parse(t)?),
            Some(Value::Interval(i)) => Some(*i),
            Some(other) => {
                return Err(SqlError::DatatypeMismatch(format!("API key lifetime must be an interval, not {other}")));
            }
        };
        let expires_at = match lifetime {
            None => None,
            Some(i) if i.span_micros() <= 0 => {
                return Err(SqlError::InvalidParameter("API key lifetime must be positive".into()));
            }
            Some(i) => Some(txn.now().saturating_add(i64::try_from(i.span_micros()).unwrap_or(i64::MAX))),
        };
        let made = memdb_auth::apikey::generate().map_err(|e| SqlError::Semantic(format!("making an API key: {e}")))?;
        let key = ApiKey {
            id: made.id.clone(),
            role: role.to_owned(),
            hash: made.hash,
            created_at: txn.now(),
            expires_at,
            comment,
        };
        txn.alter_security("making an API key", |s| s.add_api_key(key))?;
        let columns = [("id", DataType::Text), ("key", DataType::Text), ("role", DataType::Text)]
            .into_iter()
            .map(|(n, t)| OutputColumn { name: n.into(), data_type: t })
            .chain([OutputColumn { name: "expires_at".into(), data_type: DataType::TimestampTz }])
            .collect::<Vec<_>>();
        Ok(QueryResult {
            columns: Arc::from(columns),
            rows: vec![vec![
                Value::Text(made.id),
                Value::Text(made.key),
                Value::Text(role.to_owned()),
                expires_at.map_or(Value::Null, Value::TimestampTz),
            ]],
            tag: "CALL".into(),
            row_set: true,
        })
    }

    fn create_role(&mut self, txn: &mut Transaction, create: &ast::CreateRole) -> Result<&'static str> {
        if create.authorization_owner.is_some() {
            return Err(SqlError::FeatureNotSupported("CREATE ROLE … AUTHORIZATION".into()));
        }
        let mut roles = Vec::new();
        for name in &create.names {
            let name = object_name(name)?;
            if name.starts_with("pg_") {
                return Err(SqlError::InvalidParameter(format!(
                    "role name \"{name}\" is reserved: role names starting with \"pg_\" are reserved"
                )));
            }
            let mut role = Role::new(name.clone());
            role.superuser = create.superuser.unwrap_or(false);
            role.login = create.login.unwrap_or(false);
            role.password = self.password_verifier(txn, &name, create.password.as_ref())?;
            role.valid_until = create.valid_until.as_ref().map(|e| valid_until(txn, &mut self.vars, e)).transpose()?;
            role.member_of = create.in_role.iter().chain(&create.in_group).map(ident_name).collect();
            let members: Vec<String> =
                create.role.iter().chain(&create.user).chain(&create.admin).map(ident_name).collect();
            roles.push((role, members));
        }
        let if_not_exists = create.if_not_exists;
        txn.alter_security("CREATE ROLE", |s| {
            for (role, members) in roles {
                if if_not_exists && s.role_exists(&role.name) {
                    continue;
                }
                let name = role.name.clone();
                s.create_role(role)?;
                for member in members {
                    s.grant_role(&name, &member)?;
                }
            }
            Ok(())
        })?;
        Ok("CREATE ROLE")
    }

    fn alter_role(&mut self, txn: &mut Transaction, name: &str, op: &ast::AlterRoleOperation) -> Result<&'static str> {
        match op {
            ast::AlterRoleOperation::RenameRole { role_name } => {
                let to = ident_name(role_name);
                if name == self.vars.user {
                    return Err(SqlError::FeatureNotSupported("renaming the session user".into()));
                }
                txn.alter_security("ALTER ROLE", |s| {
                    s.alter_role(name, |r| {
                        // An md5 verifier is salted with the name: it no longer matches.
                        if r.password.as_deref().is_some_and(memdb_auth::md5::is_verifier) {
                            r.password = None;
                        }
                        r.name = to;
                        Ok(())
                    })
                })?;
            }
            ast::AlterRoleOperation::AddMember { member_name } => {
                txn.alter_security("ALTER ROLE", |s| s.grant_role(name, &ident_name(member_name)))?;
            }
            ast::AlterRoleOperation::DropMember { member_name } => {
                txn.alter_security("ALTER ROLE", |s| s.revoke_role(name, &ident_name(member_name)))?;
            }
            ast::AlterRoleOperation::WithOptions { options } => {
                // A password alone is one's own to change.
                if let [ast::RoleOption::Password(password)] = options.as_slice() {
                    let verifier = self.password_verifier(txn, name, Some(password))?;
                    txn.set_password(name, verifier)?;
                    return Ok("ALTER ROLE");
                }
                let mut login = None;
                let mut superuser = None;
                let mut password = None;
                let mut until = None;
                for option in options {
                    match option {
                        ast::RoleOption::Login(b) => login = Some(*b),
                        ast::RoleOption::SuperUser(b) => superuser = Some(*b),
                        ast::RoleOption::Password(p) => password = Some(self.password_verifier(txn, name, Some(p))?),
                        ast::RoleOption::ValidUntil(e) => until = Some(valid_until(txn, &mut self.vars, e)?),
                        // Attributes memdb has no use for: one database, only
                        // superusers create roles, no replication or row security.
                        ast::RoleOption::CreateDB(_)
                        | ast::RoleOption::CreateRole(_)
                        | ast::RoleOption::Inherit(_)
                        | ast::RoleOption::Replication(_)
                        | ast::RoleOption::BypassRLS(_)
                        | ast::RoleOption::ConnectionLimit(_) => {}
                    }
                }
                txn.alter_security("ALTER ROLE", |s| {
                    s.alter_role(name, |r| {
                        r.login = login.unwrap_or(r.login);
                        r.superuser = superuser.unwrap_or(r.superuser);
                        if let Some(password) = password {
                            r.password = password;
                        }
                        if until.is_some() {
                            r.valid_until = until;
                        }
                        Ok(())
                    })
                })?;
            }
            ast::AlterRoleOperation::Set { .. } | ast::AlterRoleOperation::Reset { .. } => {
                return Err(SqlError::FeatureNotSupported("ALTER ROLE … SET/RESET".into()));
            }
        }
        Ok("ALTER ROLE")
    }

    fn drop_roles(
        &mut self,
        txn: &mut Transaction,
        if_exists: bool,
        names: &[ast::ObjectName],
    ) -> Result<&'static str> {
        let names: Vec<String> = names.iter().map(object_name).collect::<Result<_>>()?;
        if let Some(me) = names.iter().find(|n| **n == self.vars.user) {
            return Err(SqlError::ObjectInUse(format!("current user \"{me}\" cannot be dropped")));
        }
        let mut skipped = Vec::new();
        txn.alter_security("DROP ROLE", |s| {
            for name in &names {
                if if_exists && !s.role_exists(name) {
                    skipped.push(name.clone());
                    continue;
                }
                s.drop_role(name)?;
            }
            Ok(())
        })?;
        for name in skipped {
            self.notice(crate::notice::Notice::skipped_missing("role", &name));
        }
        Ok("DROP ROLE")
    }

    /// The verifier to store for a `PASSWORD` clause (`None`: no password).
    fn password_verifier(
        &mut self,
        txn: &mut Transaction,
        user: &str,
        password: Option<&ast::Password>,
    ) -> Result<Option<String>> {
        let expr = match password {
            None | Some(ast::Password::NullPassword) => return Ok(None),
            Some(ast::Password::Password(e)) => e,
        };
        let Value::Text(password) = constant(txn, &mut self.vars, expr, &DataType::Text)? else {
            return Ok(None);
        };
        if password.is_empty() {
            // PostgreSQL: an empty password is no password.
            return Ok(None);
        }
        let method = self.setting("password_encryption").unwrap_or("scram-sha-256");
        Ok(Some(memdb_auth::make_verifier(user, &password, method)))
    }
}

/// GRANT or REVOKE of table privileges.
fn grant_or_revoke(
    txn: &mut Transaction,
    privileges: &ast::Privileges,
    objects: Option<&ast::GrantObjects>,
    grantees: &[ast::Grantee],
    grant: bool,
) -> Result<()> {
    let wanted = match privileges {
        ast::Privileges::All { .. } => Some(Privileges::ALL),
        ast::Privileges::Actions(actions) => {
            let mut set = Privileges::NONE;
            let mut table_privileges = true;
            for action in actions {
                match action {
                    ast::Action::Select { .. } => set = set.union(Privileges::SELECT),
                    ast::Action::Insert { .. } => set = set.union(Privileges::INSERT),
                    ast::Action::Update { .. } => set = set.union(Privileges::UPDATE),
                    ast::Action::Delete => set = set.union(Privileges::DELETE),
                    ast::Action::Truncate => set = set.union(Privileges::TRUNCATE),
                    // Every role may connect and use schema public: granting
                    // these changes nothing.
                    ast::Action::Connect | ast::Action::Usage | ast::Action::Temporary => table_privileges = false,
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!(
                            "privilege {other} (memdb grants SELECT, INSERT, UPDATE, DELETE and TRUNCATE on tables)"
                        )));
                    }
                }
            }
            table_privileges.then_some(set)
        }
    };
    let grantees: Vec<String> = grantees.iter().map(grantee_name).collect::<Result<_>>()?;
    let tables: Vec<(memdb_engine::TableId, String)> = match objects {
        Some(ast::GrantObjects::Tables(names)) => names
            .iter()
            .map(|n| {
                let name = object_name(n)?;
                let name = name.strip_prefix("public.").unwrap_or(&name).to_owned();
                Ok((txn.table(&name)?.id(), name))
            })
            .collect::<Result<_>>()?,
        Some(ast::GrantObjects::AllTablesInSchema { schemas }) => {
            let mut names = Vec::new();
            for schema in schemas {
                let schema = object_name(schema)?;
                if !crate::bind::schema_exists(txn, &schema)? {
                    return Err(SqlError::UndefinedSchema(schema));
                }
                names.push(schema);
            }
            crate::system::user_tables(txn)
                .iter()
                .filter(|t| names.iter().any(|s| s == crate::bind::split_qualified(t.name()).0))
                .map(|t| (t.id(), t.name().to_owned()))
                .collect()
        }
        // Schema, database and sequence privileges: every role has them.
        Some(
            ast::GrantObjects::Schemas(_)
            | ast::GrantObjects::Sequences(_)
            | ast::GrantObjects::AllSequencesInSchema { .. }
            | ast::GrantObjects::Databases(_),
        ) => Vec::new(),
        Some(other) => return Err(SqlError::FeatureNotSupported(format!("GRANT on {other}"))),
        None => return Err(SqlError::Semantic("GRANT needs ON objects".into())),
    };
    let what = if grant { "GRANT" } else { "REVOKE" };
    let Some(wanted) = wanted.filter(|_| !tables.is_empty()) else {
        // Nothing memdb checks; still, the grantees must exist.
        return txn
            .alter_security(what, |s| match grantees.iter().find(|g| !s.role_exists(g)) {
                Some(g) => Err(memdb_engine::Error::UndefinedObject { kind: "role", name: g.clone() }),
                None => Ok(()),
            })
            .map_err(Into::into);
    };
    txn.alter_security(what, |s| {
        for grantee in &grantees {
            for (table, _) in &tables {
                if grant {
                    s.grant(grantee, *table, wanted)?;
                } else {
                    s.revoke(grantee, *table, wanted)?;
                }
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn grantee_name(g: &ast::Grantee) -> Result<String> {
    match (&g.grantee_type, &g.name) {
        (ast::GranteesType::Public, _) => Ok(security::PUBLIC.to_owned()),
        (_, Some(ast::GranteeName::ObjectName(name))) => object_name(name),
        _ => Err(SqlError::FeatureNotSupported(format!("grantee {g}"))),
    }
}

/// A constant expression's value as `ty`.
fn constant(txn: &mut Transaction, vars: &mut super::SessionVars, e: &ast::Expr, ty: &DataType) -> Result<Value> {
    let typed = Binder::new(txn, Vec::new()).constant_expr(e)?;
    let expr = crate::bind::cast_expr(typed, ty)?;
    let mut cx = ExecCtx::new(txn, &[], vars);
    expr.eval(&[], &mut cx)
}

/// A `VALID UNTIL` time (µs since 2000-01-01).
fn valid_until(txn: &mut Transaction, vars: &mut super::SessionVars, e: &ast::Expr) -> Result<i64> {
    match constant(txn, vars, e, &DataType::TimestampTz)? {
        Value::TimestampTz(t) => Ok(t),
        other => Err(SqlError::DatatypeMismatch(format!("VALID UNTIL needs a timestamp, not {other}"))),
    }
}

/// A role statement as the audit log shows it: passwords masked.
fn redacted(stmt: &ast::Statement) -> ast::Statement {
    let mask = || ast::Password::Password(ast::Expr::Value(ast::Value::SingleQuotedString("********".into()).into()));
    let mut stmt = stmt.clone();
    match &mut stmt {
        ast::Statement::CreateRole(create) => {
            if matches!(create.password, Some(ast::Password::Password(_))) {
                create.password = Some(mask());
            }
        }
        ast::Statement::AlterRole { operation: ast::AlterRoleOperation::WithOptions { options }, .. } => {
            for option in options {
                if let ast::RoleOption::Password(p @ ast::Password::Password(_)) = option {
                    *p = mask();
                }
            }
        }
        _ => {}
    }
    stmt
}

/// Procedure arguments for the audit log, without secrets.
fn describe_args(name: &str, args: &[Value]) -> String {
    match name {
        "memdb_create_api_key" => args.first().map(ToString::to_string).unwrap_or_default(),
        _ => args.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_log_never_shows_a_password() {
        for sql in ["CREATE ROLE a LOGIN PASSWORD 'hunter2'", "ALTER ROLE a WITH LOGIN PASSWORD 'hunter2'"] {
            let statements = crate::parse(sql).unwrap_or_default();
            let shown = redacted(&statements[0]).to_string();
            assert!(!shown.contains("hunter2") && shown.contains("********"), "{shown}");
        }
    }
}
