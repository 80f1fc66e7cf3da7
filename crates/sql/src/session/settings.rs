//! A session's settings (SET/SHOW/RESET, `current_setting`, `set_config`)
//! and how transaction blocks and savepoints undo them.
//!
//! SET is transactional in PostgreSQL: ROLLBACK undoes the block's SETs,
//! ROLLBACK TO SAVEPOINT undoes those made since the savepoint, and SET
//! LOCAL lasts only until the block ends, whichever way it ends.

use std::collections::BTreeMap;

/// The settings and their defaults (`pg_settings`).
pub(crate) fn default_settings_list() -> Vec<(&'static str, &'static str)> {
    vec![
        ("application_name", ""),
        ("client_encoding", "UTF8"),
        ("datestyle", "ISO, MDY"),
        ("default_transaction_isolation", "read committed"),
        ("extra_float_digits", "1"),
        ("idle_in_transaction_session_timeout", "0"),
        ("idle_session_timeout", "0"),
        ("integer_datetimes", "on"),
        ("intervalstyle", "postgres"),
        ("lock_timeout", "0"),
        ("max_connections", "2000"),
        ("password_encryption", "scram-sha-256"),
        ("search_path", "\"$user\", public"),
        ("server_encoding", "UTF8"),
        ("server_version", crate::SERVER_VERSION),
        ("server_version_num", "150000"),
        ("standard_conforming_strings", "on"),
        ("statement_timeout", "0"),
        ("timezone", "UTC"),
        ("transaction_isolation", "read committed"),
    ]
}

/// A setting's default, if it is one memdb knows (its own, or one of
/// PostgreSQL's that it accepts without acting on).
pub(crate) fn default_of(name: &str) -> Option<&'static str> {
    default_settings_list()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .or_else(|| super::pg_settings::default_of(name))
}

/// Whether SET may set `name` (lower case): a known setting, or a custom
/// one (`myapp.user_id`, with a dot, as PostgreSQL allows any such name).
pub(crate) fn is_known(name: &str) -> bool {
    name.contains('.') || default_of(name).is_some()
}

type Values = BTreeMap<String, String>;

/// The session's settings, with what an ending block or a rollback to a
/// savepoint puts back.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    values: Values,
    /// Set when the open block began.
    block: Option<BlockSettings>,
    /// Whether a value changed since [`Settings::take_changed`] was last
    /// called (the session keeps some settings parsed).
    changed: bool,
}

/// What the settings return to when a transaction block ends.
#[derive(Clone, Debug)]
struct BlockSettings {
    /// As the block began (after ROLLBACK).
    at_begin: Values,
    /// As the block began plus its plain SETs and RESETs (after COMMIT).
    at_commit: Values,
    /// Savepoints of the block, oldest first, with both maps as they were
    /// when each was made.
    savepoints: Vec<(String, Values, Values)>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            values: default_settings_list().into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            block: None,
            changed: true,
        }
    }
}

impl Settings {
    /// A setting's current value (`name` in lower case).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).or_else(|| super::pg_settings::default_of(name))
    }

    /// Sets a setting (`local`: until the open block ends).
    pub(crate) fn put(&mut self, name: String, value: String, local: bool) {
        if !local && let Some(block) = &mut self.block {
            block.at_commit.insert(name.clone(), value.clone());
        }
        self.values.insert(name, value);
        self.changed = true;
    }

    /// Forgets a custom setting (RESET of a name with no default).
    /// Returns whether it was set.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        if let Some(block) = &mut self.block {
            block.at_commit.remove(name);
        }
        self.changed = true;
        self.values.remove(name).is_some()
    }

    /// Every setting back at its default (RESET ALL).
    pub(crate) fn reset_all(&mut self) {
        for (name, value) in default_settings_list() {
            self.put(name.to_owned(), value.to_owned(), false);
        }
    }

    /// Whether a transaction block is open.
    pub(crate) fn in_block(&self) -> bool {
        self.block.is_some()
    }

    /// Notes the settings a block starting now returns to.
    pub(crate) fn begin_block(&mut self) {
        if self.block.is_none() {
            self.block = Some(BlockSettings {
                at_begin: self.values.clone(),
                at_commit: self.values.clone(),
                savepoints: Vec::new(),
            });
        }
    }

    /// Puts the settings back as the ending block leaves them.
    pub(crate) fn end_block(&mut self, committed: bool) {
        if let Some(block) = self.block.take() {
            self.values = if committed { block.at_commit } else { block.at_begin };
            self.changed = true;
        }
    }

    /// Notes the settings as a savepoint is made.
    pub(crate) fn savepoint(&mut self, name: &str) {
        if let Some(block) = &mut self.block {
            block.savepoints.push((name.to_owned(), self.values.clone(), block.at_commit.clone()));
        }
    }

    /// Puts the settings back as they were when the latest savepoint of
    /// that name was made; the savepoint stays, later ones go.
    pub(crate) fn rollback_to(&mut self, name: &str) {
        let Some(block) = &mut self.block else { return };
        let Some(at) = block.savepoints.iter().rposition(|(n, _, _)| n == name) else { return };
        block.savepoints.truncate(at + 1);
        if let Some((_, values, at_commit)) = block.savepoints.last() {
            self.values = values.clone();
            block.at_commit = at_commit.clone();
            self.changed = true;
        }
    }

    /// Forgets the latest savepoint of that name and those after it; what
    /// was set since stays.
    pub(crate) fn release(&mut self, name: &str) {
        if let Some(block) = &mut self.block
            && let Some(at) = block.savepoints.iter().rposition(|(n, _, _)| n == name)
        {
            block.savepoints.truncate(at);
        }
    }

    /// Whether anything changed since [`Settings::take_changed`] was last
    /// called (without clearing the flag).
    pub(crate) fn is_changed(&self) -> bool {
        self.changed
    }

    /// Whether anything changed since the last call.
    pub(crate) fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(s: &Settings, name: &str) -> String {
        s.get(name).unwrap_or("<unset>").to_owned()
    }

    #[test]
    fn rollback_undoes_a_blocks_sets_and_commit_drops_only_local_ones() {
        let mut s = Settings::default();
        s.begin_block();
        s.put("application_name".into(), "a".into(), false);
        s.put("statement_timeout".into(), "5s".into(), true);
        s.end_block(true);
        assert_eq!(get(&s, "application_name"), "a");
        assert_eq!(get(&s, "statement_timeout"), "0");
        s.begin_block();
        s.put("application_name".into(), "b".into(), false);
        s.end_block(false);
        assert_eq!(get(&s, "application_name"), "a");
    }

    #[test]
    fn rollback_to_a_savepoint_undoes_what_was_set_after_it() {
        let mut s = Settings::default();
        s.begin_block();
        s.put("application_name".into(), "a".into(), false);
        s.savepoint("sp");
        s.put("application_name".into(), "b".into(), false);
        s.savepoint("later");
        s.put("application_name".into(), "c".into(), false);
        s.rollback_to("sp");
        assert_eq!(get(&s, "application_name"), "a");
        s.put("application_name".into(), "d".into(), false);
        s.rollback_to("sp");
        assert_eq!(get(&s, "application_name"), "a");
        // `later` went with the first rollback.
        s.rollback_to("later");
        assert_eq!(get(&s, "application_name"), "a");
        s.put("application_name".into(), "e".into(), false);
        s.release("sp");
        s.end_block(true);
        assert_eq!(get(&s, "application_name"), "e");
    }
}
