//! The technical dossier ("dossier technique"): what an environment is made of, who talks to whom, on which port.
//!
//! A [`Dossier`] is a graph of facts (components, flows, dependencies, secrets, data tiers, general requirements),
//! each with the file that proves it ([`Evidence`]). The application layer extracts it from the catalog and the
//! Terraform stacks; this module only renders it (Markdown in the template's structure, Mermaid C4Container, HTML)
//! and compares two of them. Nothing here reads a file: where a fact is missing the renderers print the template's
//! `!!<...>!!` placeholder and list it in the summary at the top.

pub mod diff;
pub mod html;
pub mod i18n;
pub mod markdown;
pub mod mermaid;

use serde::{Deserialize, Serialize};

pub use i18n::Lang;

/// The file a fact comes from and the text in it that shows the fact (a test checks the text is there).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    /// Repository-relative path, e.g. `terraform/stacks/orthense/api-medical/main.tf`.
    pub file: String,
    /// Text found in that file, e.g. `ConnectionStrings__Mongo` or `"8.0"`.
    pub text: String,
}

impl Evidence {
    pub fn new(file: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            text: text.into(),
        }
    }
}

/// The C4 shape of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    Person,
    Container,
    Database,
    External,
}

/// Where a component lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Boundary {
    /// Created by the product's stacks, inside the environment.
    Environment,
    /// nightshift itself (its jobs, store, queues).
    Nightshift,
    /// Outside: people, external services, platform APIs.
    Outside,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Stable id: a step name, `<step>.<instance>`, a declared id or a built-in one.
    pub id: String,
    pub name: String,
    pub shape: Shape,
    pub boundary: Boundary,
    /// The service, e.g. "Azure App Service (Linux)".
    pub technology: String,
    pub description: String,
    /// Region or place, e.g. "Azure francecentral".
    pub location: Option<String>,
    /// Public URL (external systems, or a run's output).
    pub url: Option<String>,
    pub evidence: Option<Evidence>,
}

/// How a flow was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Derived from the stacks (a setting of the source names the destination).
    Stacks,
    /// Declared in the catalog's `dossier.flows`.
    Declared,
    /// What nightshift itself does (its jobs and adapters).
    Nightshift,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub source: String,
    pub destination: String,
    pub protocol: String,
    pub port: Option<u16>,
    /// What travels or why, e.g. "ConnectionStrings__Mongo".
    pub label: String,
    pub origin: Origin,
    pub evidence: Evidence,
}

impl Flow {
    pub fn key(&self) -> (String, String, String) {
        (
            self.source.clone(),
            self.destination.clone(),
            self.protocol.clone(),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The application or part, e.g. "api-medical" or "Terraform".
    pub component: String,
    pub service: String,
    /// Version, SKU or constraint; `None` when nothing pins one.
    pub version: Option<String>,
    pub comment: String,
    pub evidence: Option<Evidence>,
    /// Where the other environments' values come from, when they differ.
    #[serde(default)]
    pub also: Vec<Evidence>,
}

impl Dependency {
    pub fn key(&self) -> (String, String) {
        (self.component.clone(), self.service.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    /// Who receives it (a component id or a step).
    pub consumer: String,
    /// The setting or environment variable it arrives in.
    pub setting: String,
    /// The vault, e.g. "foundation.key-vault" or "nightshift".
    pub vault: String,
    /// The Key Vault secret name: never its value.
    pub secret: String,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierFact {
    pub step: String,
    pub environment: String,
    pub tiers: Vec<String>,
    pub evidence: Evidence,
}

/// A database or collection the stacks create, for the data schema section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFact {
    pub component: String,
    /// e.g. "MongoDB collection", "SQL database".
    pub kind: String,
    pub name: String,
    /// Indexes, TTL: what the stacks say about it.
    pub detail: String,
    pub evidence: Evidence,
}

/// The template's general-requirement sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    Access,
    Authentication,
    Traceability,
    Updates,
    Integrity,
    Confidentiality,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Access,
        Section::Authentication,
        Section::Traceability,
        Section::Updates,
        Section::Integrity,
        Section::Confidentiality,
    ];
}

/// One enforced setting: `measure` of `subject` is `value`, shown by `evidence`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Requirement {
    pub section: Section,
    pub subject: String,
    /// A setting name as written in the stacks or the catalog, e.g. `minimum_tls_version`.
    pub measure: String,
    pub value: String,
    pub evidence: Evidence,
}

/// The environment a dossier describes, with what its last run produced.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnvironmentFacts {
    pub name: String,
    pub kind: String,
    pub lifetime: Option<String>,
    pub run: Option<String>,
    pub version: Option<String>,
    pub expires_at: Option<String>,
    /// `<step>.<output>` = URL, from the run's outputs.
    pub urls: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dossier {
    pub product: String,
    pub description: String,
    pub platform: String,
    pub catalog_file: String,
    pub repository: Option<String>,
    pub hosting: Option<String>,
    pub environment: Option<EnvironmentFacts>,
    pub components: Vec<Component>,
    pub flows: Vec<Flow>,
    pub dependencies: Vec<Dependency>,
    pub secrets: Vec<SecretRef>,
    pub tiers: Vec<TierFact>,
    pub requirements: Vec<Requirement>,
    #[serde(default)]
    pub data: Vec<DataFact>,
    /// Stack facts that could not be read (an unparsable file), kept visible rather than dropped.
    pub warnings: Vec<String>,
}

impl Dossier {
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    /// Sorts every list and drops duplicate flows, so two extractions of the same facts render the same bytes.
    pub fn normalize(&mut self) {
        self.components.sort_by(|a, b| a.id.cmp(&b.id));
        self.components.dedup_by(|a, b| a.id == b.id);
        self.flows
            .sort_by(|a, b| (a.origin, a.key(), &a.label).cmp(&(b.origin, b.key(), &b.label)));
        self.flows.dedup_by(|a, b| a.key() == b.key());
        self.dependencies
            .sort_by(|a, b| (a.key(), &a.version).cmp(&(b.key(), &b.version)));
        self.dependencies.dedup_by(|a, b| a.key() == b.key());
        self.secrets.sort_by(|a, b| {
            (&a.consumer, &a.setting, &a.secret).cmp(&(&b.consumer, &b.setting, &b.secret))
        });
        self.secrets
            .dedup_by(|a, b| (&a.consumer, &a.setting) == (&b.consumer, &b.setting));
        self.tiers
            .sort_by(|a, b| (&a.step, &a.environment).cmp(&(&b.step, &b.environment)));
        self.requirements.sort();
        self.data.sort_by(|a, b| {
            (&a.component, &a.kind, &a.name).cmp(&(&b.component, &b.kind, &b.name))
        });
        self.data
            .dedup_by(|a, b| (&a.component, &a.kind, &a.name) == (&b.component, &b.kind, &b.name));
        self.requirements.dedup_by(|a, b| {
            (a.section, &a.subject, &a.measure) == (b.section, &b.subject, &b.measure)
        });
    }

    /// The display name of a component id (the id itself when unknown).
    pub fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.component(id).map(|c| c.name.as_str()).unwrap_or(id)
    }

    /// The display name in a language: the built-in `users` is translated, the rest is as the facts name it.
    pub fn name_in<'a>(&'a self, id: &'a str, lang: Lang) -> &'a str {
        if id == "users" {
            return lang.t("Utilisateurs", "Users");
        }
        self.name_of(id)
    }
}

/// The placeholder the template uses for what a person must fill in.
pub fn placeholder(what: &str) -> String {
    format!("!!<{what}>!!")
}
