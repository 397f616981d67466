//! What a resource type is, for the dossier: its C4 shape, the service it is, the protocol and port its clients use
//! (the service's documented endpoint: Cosmos DB for MongoDB listens on 10255, Azure SQL speaks TDS on 1433, every
//! Azure data-plane API is HTTPS on 443), and which of its attributes pin a version or a SKU.
//!
//! The local cloud's stand-ins are `terraform_data` resources inside modules whose `kind` input names the Azure
//! service they mirror (terraform/local/modules): they get that service's shape, and "file" as protocol, since the
//! demo's databases are SQLite files.

use nightshift_core::dossier::{Boundary, Section, Shape};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub slug: &'static str,
    pub shape: Shape,
    pub boundary: Boundary,
    pub technology: &'static str,
    pub protocol: &'static str,
    pub port: Option<u16>,
    /// (service, attribute path) pinning a version or SKU.
    pub versions: &'static [(&'static str, &'static str)],
    /// Whether browsers of the product's users reach it directly.
    pub public: bool,
}

const fn kind(
    slug: &'static str,
    shape: Shape,
    technology: &'static str,
    protocol: &'static str,
    port: Option<u16>,
    versions: &'static [(&'static str, &'static str)],
) -> Kind {
    Kind {
        slug,
        shape,
        boundary: Boundary::Environment,
        technology,
        protocol,
        port,
        versions,
        public: false,
    }
}

const WEB_APP: Kind = kind(
    "app",
    Shape::Container,
    "Azure App Service (Linux)",
    "HTTPS",
    Some(443),
    &[
        (".NET", "site_config.application_stack.dotnet_version"),
        ("Node.js", "site_config.application_stack.node_version"),
        ("Python", "site_config.application_stack.python_version"),
        ("Java", "site_config.application_stack.java_version"),
        ("image", "site_config.application_stack.docker_image_name"),
    ],
);

/// The kind of an Azure (or Cloudflare) resource type, if it is a component of the architecture.
pub fn of_type(rtype: &str, attrs: &dyn Fn(&str) -> Option<String>) -> Option<Kind> {
    Some(match rtype {
        "azurerm_linux_web_app" | "azurerm_windows_web_app" => WEB_APP,
        "azurerm_static_web_app" => Kind {
            public: true,
            ..kind(
                "spa",
                Shape::Container,
                "Azure Static Web Apps",
                "HTTPS",
                Some(443),
                &[("SKU", "sku_tier")],
            )
        },
        "azurerm_cosmosdb_account" => {
            let mongo = attrs("kind").is_some_and(|k| k == "MongoDB");
            kind(
                "cosmos",
                Shape::Database,
                if mongo {
                    "Azure Cosmos DB for MongoDB"
                } else {
                    "Azure Cosmos DB"
                },
                if mongo { "TLS (MongoDB)" } else { "HTTPS" },
                Some(if mongo { 10255 } else { 443 }),
                &[
                    ("MongoDB server version", "mongo_server_version"),
                    ("offer", "offer_type"),
                    ("consistency", "consistency_policy.consistency_level"),
                ],
            )
        }
        "azurerm_mssql_server" => kind(
            "sql",
            Shape::Database,
            "Azure SQL Database",
            "TDS (TLS)",
            Some(1433),
            &[("SQL Server version", "version")],
        ),
        "azurerm_postgresql_flexible_server" => kind(
            "postgres",
            Shape::Database,
            "Azure Database for PostgreSQL (flexible server)",
            "TLS (PostgreSQL)",
            Some(5432),
            &[
                ("PostgreSQL version", "version"),
                ("SKU", "sku_name"),
                ("storage (MB)", "storage_mb"),
            ],
        ),
        "azurerm_redis_cache" => kind(
            "redis",
            Shape::Database,
            "Azure Cache for Redis",
            "TLS (Redis)",
            Some(6380),
            &[("Redis version", "redis_version"), ("SKU", "sku_name")],
        ),
        "azurerm_key_vault" => kind(
            "key-vault",
            Shape::Container,
            "Azure Key Vault",
            "HTTPS",
            Some(443),
            &[("SKU", "sku_name")],
        ),
        "azurerm_application_insights" => kind(
            "app-insights",
            Shape::Container,
            "Application Insights",
            "HTTPS",
            Some(443),
            &[("type", "application_type")],
        ),
        "azurerm_log_analytics_workspace" => kind(
            "log-analytics",
            Shape::Database,
            "Log Analytics",
            "HTTPS",
            Some(443),
            &[("SKU", "sku")],
        ),
        "azurerm_storage_account" => kind(
            "storage",
            Shape::Database,
            "Azure Storage",
            "HTTPS",
            Some(443),
            &[
                ("tier", "account_tier"),
                ("replication", "account_replication_type"),
            ],
        ),
        "cloudflare_dns_record" => Kind {
            boundary: Boundary::Outside,
            public: true,
            ..kind(
                "cloudflare",
                Shape::External,
                "Cloudflare DNS",
                "DNS",
                Some(53),
                &[],
            )
        },
        _ => return None,
    })
}

/// Dependencies that are no component of their own: (resource type, service, attribute paths).
pub const PLATFORM_DEPENDENCIES: &[(&str, &str, &[&str])] = &[
    (
        "azurerm_service_plan",
        "Azure App Service plan",
        &["sku_name"],
    ),
    (
        "azurerm_mssql_database",
        "Azure SQL database",
        &["sku_name"],
    ),
];

/// The local cloud's stand-in for `kind` (a module input of terraform/local/modules).
pub fn of_local(kind_input: &str) -> Option<Kind> {
    let k = |slug, shape, tech| Kind {
        public: slug == "spa",
        ..kind(slug, shape, tech, "HTTPS", Some(443), &[])
    };
    Some(match kind_input {
        "app-service" => Kind {
            versions: &[("runtime", "var.runtime")],
            ..k("app", Shape::Container, "App Service (local cloud)")
        },
        "static-web-app" => k("spa", Shape::Container, "Static Web App (local cloud)"),
        "postgresql" => Kind {
            protocol: "file (SQLite)",
            port: None,
            ..k(
                "postgres",
                Shape::Database,
                "PostgreSQL stand-in: SQLite (local cloud)",
            )
        },
        "sql-server" => Kind {
            protocol: "file (SQLite)",
            port: None,
            ..k(
                "sql",
                Shape::Database,
                "SQL Server stand-in: SQLite (local cloud)",
            )
        },
        "cosmosdb-mongo" => Kind {
            protocol: "file (SQLite)",
            port: None,
            ..k(
                "cosmos",
                Shape::Database,
                "Cosmos DB for MongoDB stand-in: SQLite (local cloud)",
            )
        },
        _ => return None,
    })
}

/// A local `terraform_data` named after the Azure service it stands in for (the foundation's vault and monitoring).
pub fn of_local_name(name: &str) -> Option<Kind> {
    let file = |slug, tech| Kind {
        protocol: "file",
        port: None,
        ..kind(slug, Shape::Container, tech, "", None, &[])
    };
    match name {
        "key_vault" => Some(file("key-vault", "Key Vault stand-in (local cloud)")),
        "app_insights" => Some(file(
            "app-insights",
            "Application Insights stand-in (local cloud)",
        )),
        _ => None,
    }
}

/// Attribute paths (suffixes) that enforce a general requirement, by section.
pub const REQUIREMENTS: &[(&str, Section)] = &[
    ("https_only", Section::Access),
    ("minimum_tls_version", Section::Access),
    ("minimal_tls_version", Section::Access),
    ("min_tls_version", Section::Access),
    ("scm_minimum_tls_version", Section::Access),
    ("ftps_state", Section::Access),
    ("ftp_publish_basic_authentication_enabled", Section::Access),
    (
        "webdeploy_publish_basic_authentication_enabled",
        Section::Access,
    ),
    ("public_network_access_enabled", Section::Access),
    ("client_certificate_mode", Section::Access),
    ("ssl_state", Section::Access),
    ("rbac_authorization_enabled", Section::Authentication),
    ("local_authentication_disabled", Section::Authentication),
    ("local_authentication_enabled", Section::Authentication),
    ("identity.type", Section::Authentication),
    ("azuread_authentication_only", Section::Authentication),
    ("active_directory_auth_enabled", Section::Authentication),
    ("password_auth_enabled", Section::Authentication),
    ("retention_in_days", Section::Traceability),
    ("log_monitoring_enabled", Section::Traceability),
    ("detailed_error_messages", Section::Traceability),
    ("failed_request_tracing", Section::Traceability),
    ("daily_quota_gb", Section::Traceability),
    ("enabled_log.category", Section::Traceability),
    ("enabled_log.category_group", Section::Traceability),
    ("backup.type", Section::Integrity),
    ("backup.tier", Section::Integrity),
    ("retention_days", Section::Integrity),
    ("geo_backup_enabled", Section::Integrity),
    ("backup_retention_days", Section::Integrity),
    ("geo_redundant_backup_enabled", Section::Integrity),
    ("soft_delete_retention_days", Section::Integrity),
    ("purge_protection_enabled", Section::Integrity),
    ("storage_account_type", Section::Integrity),
    ("expire_after", Section::Integrity),
];
