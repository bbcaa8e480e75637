//! The personas OpenStack's default policies use, answered from a request
//! context: "may this caller do X on an object owned by project P?".

use super::auth::AuthContext;

/// How much a role lets its holder do, lowest first; each level implies the
/// ones below it (admin ⇒ manager ⇒ member ⇒ reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Reader,
    Member,
    Manager,
    Admin,
}

impl Level {
    fn of_roles(roles: &[String]) -> Option<Level> {
        roles
            .iter()
            .filter_map(|r| match r.as_str() {
                "admin" => Some(Level::Admin),
                "manager" => Some(Level::Manager),
                "member" => Some(Level::Member),
                "reader" => Some(Level::Reader),
                _ => None,
            })
            .max()
    }
}

/// Who may perform an action: a system-scoped caller at `system` level or
/// above, or (when set) a project-scoped caller at `project` level or above
/// on the project that owns the object (or is its lessee, when allowed).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub system: Level,
    pub project: Option<Level>,
    pub lessee: Option<Level>,
}

impl Rule {
    pub const SYSTEM_ADMIN: Rule = Rule { system: Level::Admin, project: None, lessee: None };
    pub const SYSTEM_READER: Rule = Rule { system: Level::Reader, project: None, lessee: None };
}

/// The projects an object belongs to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Owner<'a> {
    pub owner: Option<&'a str>,
    pub lessee: Option<&'a str>,
}

impl AuthContext {
    /// The caller's level on the whole deployment, if system-scoped.
    pub fn system_level(&self) -> Option<Level> {
        if self.system { Level::of_roles(&self.roles) } else { None }
    }

    /// The caller's level on its own project, if project-scoped.
    pub fn project_level(&self) -> Option<Level> {
        self.project_id.as_ref().and_then(|_| Level::of_roles(&self.roles))
    }

    /// Keystone's `admin_required`: the admin role in any scope.
    pub fn is_admin(&self) -> bool {
        self.noauth || self.has_role("admin")
    }

    pub fn allows(&self, rule: Rule, target: Owner<'_>) -> bool {
        if self.noauth {
            return true;
        }
        if self.system_level().is_some_and(|l| l >= rule.system) {
            return true;
        }
        let (Some(project), Some(level)) = (self.project_id.as_deref(), self.project_level()) else {
            return false;
        };
        let owns = rule.project.is_some_and(|need| level >= need && target.owner == Some(project));
        let leases = rule.lessee.is_some_and(|need| level >= need && target.lessee == Some(project));
        owns || leases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(system: bool, project: Option<&str>, roles: &[&str]) -> AuthContext {
        AuthContext {
            system,
            project_id: project.map(String::from),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn personas() {
        let rule = Rule { system: Level::Member, project: Some(Level::Admin), lessee: Some(Level::Member) };
        let node = Owner { owner: Some("p1"), lessee: Some("p2") };
        assert!(ctx(true, None, &["admin"]).allows(rule, node));
        assert!(ctx(true, None, &["member", "reader"]).allows(rule, node));
        assert!(!ctx(true, None, &["reader"]).allows(rule, node));
        assert!(ctx(false, Some("p1"), &["admin"]).allows(rule, node));
        assert!(!ctx(false, Some("p1"), &["member"]).allows(rule, node));
        assert!(ctx(false, Some("p2"), &["member"]).allows(rule, node));
        assert!(!ctx(false, Some("p3"), &["admin"]).allows(rule, node));
        assert!(AuthContext::noauth().allows(Rule::SYSTEM_ADMIN, Owner::default()));
        assert!(!ctx(false, Some("p1"), &["admin"]).allows(Rule::SYSTEM_ADMIN, node));
    }
}
