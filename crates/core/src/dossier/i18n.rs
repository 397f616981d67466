//! The dossier's words in French (the template's language, the default) and English.

use super::{Origin, Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// French or English text.
    pub fn t<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    pub fn section(self, s: Section) -> &'static str {
        match (self, s) {
            (Lang::Fr, Section::Access) => "Accès aux serveurs et sécurité des échanges",
            (Lang::Fr, Section::Authentication) => {
                "Authentification, contrôle d’accès, habilitations et profils"
            }
            (Lang::Fr, Section::Traceability) => {
                "Traçabilité des erreurs et des actions utilisateurs"
            }
            (Lang::Fr, Section::Updates) => "Politique de mise à jour des applicatifs",
            (Lang::Fr, Section::Integrity) => "Intégrité",
            (Lang::Fr, Section::Confidentiality) => "Confidentialité",
            (Lang::En, Section::Access) => "Server access and transport security",
            (Lang::En, Section::Authentication) => {
                "Authentication, access control, permissions and profiles"
            }
            (Lang::En, Section::Traceability) => "Traceability of errors and user actions",
            (Lang::En, Section::Updates) => "Update policy",
            (Lang::En, Section::Integrity) => "Integrity",
            (Lang::En, Section::Confidentiality) => "Confidentiality",
        }
    }

    /// The template's own instruction for a section, kept as the placeholder when no fact fills it.
    pub fn section_placeholder(self, s: Section) -> &'static str {
        match (self, s) {
            (Lang::Fr, Section::Access) => "Détailler en quelques lignes la façon dont vous administrer le SI et quelles mesures de sécurité vous avez mis en place pour cela",
            (Lang::Fr, Section::Authentication) => "Détailler en quelques lignes le processus d’authentification et la façon dont les accès sont restreints",
            (Lang::Fr, Section::Traceability) => "Détailler en quelques lignes la façon dont vous reportez les erreurs et les logs",
            (Lang::Fr, Section::Updates) => "Détailler en quelques lignes votre politique de mise a jour des dépendances de votre SI",
            (Lang::Fr, Section::Integrity) => "Quels contrôles avez vous mis en place pour détecter des problèmes d’intégrité du SI et qu’avez vous mis en place pour vous en prémunir (monitoring, backups, etc)",
            (Lang::Fr, Section::Confidentiality) => "Avez-vous un besoin accru en confidentialité et si oui, qu’avez vous mis en place",
            (Lang::En, Section::Access) => "Describe in a few lines how you administer the system and the security measures in place",
            (Lang::En, Section::Authentication) => "Describe in a few lines the authentication process and how access is restricted",
            (Lang::En, Section::Traceability) => "Describe in a few lines how errors and logs are reported",
            (Lang::En, Section::Updates) => "Describe in a few lines your policy for updating the system's dependencies",
            (Lang::En, Section::Integrity) => "Which controls detect integrity problems and what protects against them (monitoring, backups, etc.)",
            (Lang::En, Section::Confidentiality) => "Do you have heightened confidentiality needs, and if so what is in place",
        }
    }

    pub fn origin(self, o: Origin) -> &'static str {
        match (self, o) {
            (Lang::Fr, Origin::Stacks) => "piles Terraform",
            (Lang::Fr, Origin::Declared) => "déclaré (catalogue)",
            (Lang::Fr, Origin::Nightshift) => "nightshift",
            (Lang::En, Origin::Stacks) => "Terraform stacks",
            (Lang::En, Origin::Declared) => "declared (catalog)",
            (Lang::En, Origin::Nightshift) => "nightshift",
        }
    }
}
