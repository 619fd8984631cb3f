//! One typed `Settings`, layered: defaults in code, then an optional TOML file (`CERTSCAN_CONFIG`, or
//! `certscan.toml` in the working folder when present), then `CERTSCAN_*` environment variables
//! (`CERTSCAN_DATA_DIR`, `CERTSCAN_PDFIUM_LIBRARY`, ...). The embedded default needs no configuration.

use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The folder the setup puts `libpdfium.so` in, relative to the project.
pub const PDFIUM_DIR: &str = ".pdfium";
const PDFIUM_FILE: &str = "libpdfium.so";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where certscan keeps what it stores (calibration, outputs). Default: `certscan-data` in the working folder.
    pub data_dir: PathBuf,
    /// Path of `libpdfium.so`. Default: `.pdfium/libpdfium.so` in the working folder or any folder above it,
    /// then beside the executable or any folder above it (where the README's setup puts it).
    pub pdfium_library: Option<PathBuf>,
    /// Folder of printer profiles (`NAME.toml`). Default: `<data_dir>/calibration`.
    pub calibration_dir: Option<PathBuf>,
    /// A template TOML file for another blank design. Default: the embedded reference blank.
    pub template: Option<PathBuf>,
    /// `text` or `json` logs. Default: `text`.
    pub log_format: LogFormat,
    /// `postgres://…` for the service, `sqlite://PATH` for one machine. Default: `sqlite://<data_dir>/certscan.db`.
    pub database_url: Option<String>,
    /// RabbitMQ, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`. Default: none — an in-process queue, and
    /// `certscan serve` runs the workers itself.
    pub amqp_url: Option<String>,
    /// The job queue's name; its dead-letter queue is `<name>.dead`. Default: `certscan.jobs`.
    pub amqp_queue: String,
    /// Deliveries a worker holds at once. Default: 1 (a page file is CPU-bound; more only waits).
    pub amqp_prefetch: u16,
    /// A local folder, or `s3://bucket/prefix` (S3-compatible, `AWS_*` variables; `s3` build feature).
    /// Default: `<data_dir>/objects`.
    pub object_store: Option<String>,
    /// Where `certscan serve` listens. Default: `127.0.0.1:8080`.
    pub listen: String,
    /// API tokens with their roles. Default: none — then the API listens on loopback only and needs no
    /// token. In a file: `[[tokens]]` tables with `name`, `role`, `token`; in the environment:
    /// `CERTSCAN_TOKENS=name:role:token,name:role:token`.
    pub tokens: Vec<ApiToken>,
    /// Largest upload accepted, in MiB. Default: 512.
    pub max_upload_mb: u64,
    /// Jobs the embedded `serve` processes at once (each uses every core). Default: 1.
    pub workers: usize,
    /// The topic exchange events are published to when `amqp_url` is set (routing key = event type).
    /// Default: `certscan.events`.
    pub events_exchange: String,
    /// A URL every event is POSTed to (JSON, signed), retried with backoff until a 2xx. Default: none.
    pub events_webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the webhook's `X-Certscan-Signature` header (16+ characters); required
    /// with `events_webhook_url`. Default: none.
    pub events_webhook_secret: Option<Secret>,
}

/// A setting never shown in logs or `Debug` output.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// One bearer token of the API.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who holds it; recorded in the audit trail.
    pub name: String,
    pub role: Role,
    pub token: String,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken").field("name", &self.name).field("role", &self.role).field("token", &"***").finish()
    }
}

/// What a token may do (the seeds: the portal owns exams; testing-center staff import, generate, upload
/// and review; exam-site staff and read-only users look).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Portal,
    TestingCenter,
    ExamSite,
    ReadOnly,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Portal => "portal",
            Role::TestingCenter => "testing_center",
            Role::ExamSite => "exam_site",
            Role::ReadOnly => "read_only",
        }
    }
}

/// `name:role:token,…` as `CERTSCAN_TOKENS` gives it.
fn parse_tokens(value: &str) -> Result<Vec<ApiToken>, SettingsError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|entry| {
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(role), Some(token)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(SettingsError::Invalid(format!(
                    "CERTSCAN_TOKENS: {:?} is not name:role:token",
                    entry.split(':').next().unwrap_or("")
                )));
            };
            let role: Role = serde_json::from_value(serde_json::Value::String(role.to_string())).map_err(|_| {
                SettingsError::Invalid(format!(
                    "CERTSCAN_TOKENS: token {name:?} has role {role:?}; roles are portal, testing_center, exam_site, read_only"
                ))
            })?;
            if token.len() < 16 {
                return Err(SettingsError::Invalid(format!("CERTSCAN_TOKENS: token {name:?} is shorter than 16 characters")));
            }
            Ok(ApiToken { name: name.to_string(), role, token: token.to_string() })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("certscan-data"),
            pdfium_library: None,
            calibration_dir: None,
            template: None,
            log_format: LogFormat::Text,
            database_url: None,
            amqp_url: None,
            amqp_queue: "certscan.jobs".into(),
            amqp_prefetch: 1,
            object_store: None,
            listen: "127.0.0.1:8080".into(),
            tokens: Vec::new(),
            max_upload_mb: 512,
            workers: 1,
            events_exchange: "certscan.events".into(),
            events_webhook_url: None,
            events_webhook_secret: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("libpdfium.so not found: set CERTSCAN_PDFIUM_LIBRARY, or run the README's setup (it puts the library in {PDFIUM_DIR}/); looked in: {looked}")]
    PdfiumNotFound { looked: String },
}

impl Settings {
    /// Reads the layers from the process environment.
    pub fn load() -> Result<Settings, SettingsError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Settings::load_from(&env, Path::new("."))
    }

    /// Reads the layers from the given environment and working folder (tests pass their own).
    pub fn load_from(env: &[(String, String)], cwd: &Path) -> Result<Settings, SettingsError> {
        let var = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match var("CERTSCAN_CONFIG") {
            Some(path) => {
                let path = cwd.join(path);
                if !path.is_file() {
                    return Err(SettingsError::Invalid(format!("CERTSCAN_CONFIG names {}, which is not a file", path.display())));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file(cwd.join("certscan.toml"))),
        }
        let vars: Vec<(String, String)> = env
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("CERTSCAN_").map(|rest| (rest.to_ascii_lowercase(), v.clone())))
            // Not settings: the file's name, the log filter, and the test suite's and benches' own knobs.
            .filter(|(k, _)| k != "config" && k != "log" && !k.starts_with("test_") && !k.starts_with("bench_"))
            .collect();
        for (key, value) in vars {
            if key == "tokens" {
                figment = figment.merge(Serialized::default("tokens", parse_tokens(&value)?));
            } else {
                figment = figment.merge((key, value));
            }
        }
        let settings: Settings = figment.extract().map_err(|e| SettingsError::Invalid(e.to_string()))?;
        if settings.events_webhook_url.is_some() && settings.events_webhook_secret.as_ref().is_none_or(|s| s.0.len() < 16) {
            return Err(SettingsError::Invalid(
                "events_webhook_url needs events_webhook_secret (CERTSCAN_EVENTS_WEBHOOK_SECRET) of 16 or more characters".into(),
            ));
        }
        Ok(settings)
    }

    /// The database URL, defaulting to the SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("certscan.db").display()))
    }

    /// The object store setting, defaulting to a folder in the data folder.
    pub fn object_store(&self) -> String {
        self.object_store.clone().unwrap_or_else(|| self.data_dir.join("objects").display().to_string())
    }

    pub fn calibration_dir(&self) -> PathBuf {
        self.calibration_dir.clone().unwrap_or_else(|| self.data_dir.join("calibration"))
    }

    /// Where `libpdfium.so` is: the setting when given (it must exist), else the first of the default places.
    pub fn pdfium_library(&self) -> Result<PathBuf, SettingsError> {
        if let Some(path) = &self.pdfium_library {
            return if path.is_file() {
                Ok(path.clone())
            } else {
                Err(SettingsError::PdfiumNotFound { looked: path.display().to_string() })
            };
        }
        let mut looked = Vec::new();
        let cwd = std::env::current_dir().ok();
        let exe_dir = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf));
        for start in [cwd, exe_dir].into_iter().flatten() {
            for dir in start.ancestors() {
                let candidate = dir.join(PDFIUM_DIR).join(PDFIUM_FILE);
                if candidate.is_file() {
                    return Ok(candidate);
                }
                looked.push(candidate.display().to_string());
            }
        }
        Err(SettingsError::PdfiumNotFound { looked: looked.join(", ") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_configuration_gives_the_embedded_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load_from(&[], dir.path()).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.calibration_dir(), PathBuf::from("certscan-data/calibration"));
    }

    #[test]
    fn a_file_is_overridden_by_environment_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("certscan.toml"), "data_dir = \"/srv/a\"\nlog_format = \"json\"\n").unwrap();
        let s = Settings::load_from(&env(&[("CERTSCAN_DATA_DIR", "/srv/b")]), dir.path()).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/b"));
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn an_unknown_key_is_an_error_not_silence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("certscan.toml"), "data_dri = \"/srv/a\"\n").unwrap();
        let err = Settings::load_from(&[], dir.path()).unwrap_err();
        assert!(err.to_string().contains("data_dri"), "{err}");
    }

    #[test]
    fn a_missing_config_file_named_by_the_variable_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Settings::load_from(&env(&[("CERTSCAN_CONFIG", "nope.toml")]), dir.path()).unwrap_err();
        assert!(err.to_string().contains("nope.toml"), "{err}");
    }

    #[test]
    fn the_log_filter_and_test_variables_are_not_settings_but_a_typo_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let vars = env(&[("CERTSCAN_LOG", "info"), ("CERTSCAN_TEST_DATABASE_URL", "postgres://x"), ("CERTSCAN_BENCH_EXAMS", "8")]);
        assert_eq!(Settings::load_from(&vars, dir.path()).unwrap(), Settings::default());
        let err = Settings::load_from(&env(&[("CERTSCAN_DATABSE_URL", "postgres://x")]), dir.path()).unwrap_err();
        assert!(err.to_string().contains("databse_url"), "{err}");
    }

    #[test]
    fn tokens_come_from_the_environment_in_compact_form() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load_from(
            &env(&[("CERTSCAN_TOKENS", "flow:portal:0123456789abcdef, ct:testing_center:fedcba9876543210")]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(s.tokens.len(), 2);
        assert_eq!(s.tokens[1].role, Role::TestingCenter);
        assert_eq!(s.tokens[1].name, "ct");
        let err = Settings::load_from(&env(&[("CERTSCAN_TOKENS", "flow:admin:0123456789abcdef")]), dir.path()).unwrap_err();
        assert!(err.to_string().contains("admin"), "{err}");
        assert!(!format!("{:?}", s.tokens[0]).contains("0123456789abcdef"), "Debug must not show the secret");
    }

    #[test]
    fn an_explicit_pdfium_path_that_does_not_exist_is_reported() {
        let s = Settings { pdfium_library: Some("/nonexistent/libpdfium.so".into()), ..Settings::default() };
        let err = s.pdfium_library().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/libpdfium.so"), "{err}");
    }
}
