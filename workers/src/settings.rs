//! One typed `Settings`, layered: defaults in code, then an optional TOML file (`CERTSCAN_CONFIG`, or
//! `certscan.toml` in the working folder when present), then `CERTSCAN_*` environment variables
//! (`CERTSCAN_DATA_DIR`, `CERTSCAN_MAX_UPLOAD_MB`, ...) through figment's own `Env` provider, which types
//! a value by its text (`5` is a number) — a text setting takes a number-like value as text. An unknown
//! `CERTSCAN_*` variable is not a setting: [`Settings::unknown_variables`] names it for a warning (a
//! script's own `CERTSCAN_BIN` must not stop the service). The embedded default needs no configuration.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};

/// The folder the setup puts `libpdfium.so` in, relative to the project.
pub const PDFIUM_DIR: &str = ".pdfium";
const PDFIUM_FILE: &str = "libpdfium.so";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where certscan keeps what it stores (calibration, outputs). Default: `certscan-data` in the working folder.
    #[serde(deserialize_with = "text::path")]
    pub data_dir: PathBuf,
    /// Path of `libpdfium.so`. Default: `.pdfium/libpdfium.so` in the working folder or any folder above it,
    /// then beside the executable or any folder above it (where the README's setup puts it).
    #[serde(deserialize_with = "text::optional_path")]
    pub pdfium_library: Option<PathBuf>,
    /// Folder of printer profiles (`NAME.toml`). Default: `<data_dir>/calibration`.
    #[serde(deserialize_with = "text::optional_path")]
    pub calibration_dir: Option<PathBuf>,
    /// A template TOML file for another blank design. Default: the embedded reference blank.
    #[serde(deserialize_with = "text::optional_path")]
    pub template: Option<PathBuf>,
    /// `text` or `json` logs. Default: `text`.
    pub log_format: LogFormat,
    /// `postgres://…` for the service, `sqlite://PATH` for one machine. Default: `sqlite://<data_dir>/certscan.db`.
    #[serde(deserialize_with = "text::optional")]
    pub database_url: Option<String>,
    /// RabbitMQ, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`. Default: none — an in-process queue, and
    /// `certscan serve` runs the workers itself.
    #[serde(deserialize_with = "text::optional")]
    pub amqp_url: Option<String>,
    /// The job queue's name; its dead-letter queue is `<name>.dead`. Default: `certscan.jobs`.
    #[serde(deserialize_with = "text::text")]
    pub amqp_queue: String,
    /// Deliveries a worker holds at once. Default: 1 (a page file is CPU-bound; more only waits).
    pub amqp_prefetch: u16,
    /// A local folder, or `s3://bucket/prefix` (S3-compatible, `AWS_*` variables; `s3` build feature).
    /// Default: `<data_dir>/objects`.
    #[serde(deserialize_with = "text::optional")]
    pub object_store: Option<String>,
    /// Where `certscan serve` listens. Default: `127.0.0.1:8080`.
    #[serde(deserialize_with = "text::text")]
    pub listen: String,
    /// API tokens with their roles. Default: none — then the API listens on loopback only and needs no
    /// token. In a file: `[[tokens]]` tables with `name`, `role`, `token`; in the environment:
    /// `CERTSCAN_TOKENS=name:role:token,name:role:token`.
    pub tokens: Vec<ApiToken>,
    /// Largest upload accepted, in MiB. Default: 512.
    pub max_upload_mb: u64,
    /// Jobs the embedded `serve` processes at once (each uses every core). Default: 1.
    pub workers: usize,
    /// Pages one scan file may have; a longer file fails its job with the reason. Default: 2000 (the
    /// largest real stack is about 500).
    pub max_pages: usize,
    /// Seconds a job may take to recognise its file; past it the job fails with the reason and the worker
    /// takes the next one. Default: 1800.
    pub job_deadline_s: u64,
    /// Seconds a client has to send a request's headers. Default: 10.
    pub header_timeout_s: u64,
    /// Seconds a request body may stall between two chunks of data. Default: 30.
    pub body_timeout_s: u64,
    /// Seconds a whole request may take, body and answer included. Default: 900 (a 512 MiB upload at
    /// 0.6 MB/s).
    pub request_timeout_s: u64,
    /// Connections the API holds open at once; one more is answered 503 and closed. Default: 512.
    pub max_connections: usize,
    /// Rows a FIS FRDO file may have after its header. Default: 10000.
    pub fis_max_rows: usize,
    /// Largest FIS FRDO file, in MiB: the upload, and an XLSX's inflated parts together. Default: 16.
    pub fis_max_mb: u64,
    /// The topic exchange events are published to when `amqp_url` is set (routing key = event type).
    /// Default: `certscan.events`.
    #[serde(deserialize_with = "text::text")]
    pub events_exchange: String,
    /// A URL every event is POSTed to (JSON, signed), retried with backoff until a 2xx. Default: none.
    #[serde(deserialize_with = "text::optional")]
    pub events_webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the webhook's `X-Certscan-Signature` header (16+ characters); required
    /// with `events_webhook_url`. Default: none.
    pub events_webhook_secret: Option<Secret>,
}

/// A setting never shown in logs or `Debug` output (a number-like value from the environment is text).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(#[serde(deserialize_with = "text::text")] pub String);

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
            max_pages: 2000,
            job_deadline_s: 1800,
            header_timeout_s: 10,
            body_timeout_s: 30,
            request_timeout_s: 900,
            max_connections: 512,
            fis_max_rows: 10_000,
            fis_max_mb: 16,
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

/// Environment variables with the `CERTSCAN_` prefix that are not settings: the file's name, the log filter.
const NOT_SETTINGS: [&str; 2] = ["config", "log"];

/// Prefixes of the test suite's and the benches' own `CERTSCAN_*` knobs (not settings, and no warning).
const OWN_KNOBS: [&str; 2] = ["test_", "bench_"];

impl Settings {
    /// Every setting's name (lower case, as in a file; the variable is `CERTSCAN_` + upper case).
    pub fn names() -> Vec<String> {
        match figment::value::Value::serialize(Settings::default()) {
            Ok(figment::value::Value::Dict(_, dict)) => dict.keys().cloned().collect(),
            _ => unreachable!("Settings serialises to a dictionary"),
        }
    }

    /// Reads the layers from the process environment and the working folder.
    pub fn load() -> Result<Settings, SettingsError> {
        Settings::load_in(Path::new("."))
    }

    /// Reads the layers: defaults, the file (`CERTSCAN_CONFIG` relative to `cwd`, or `cwd/certscan.toml`),
    /// then the process's `CERTSCAN_*` variables that name a setting.
    pub fn load_in(cwd: &Path) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match std::env::var("CERTSCAN_CONFIG") {
            Ok(path) => {
                let path = cwd.join(path);
                if !path.is_file() {
                    return Err(SettingsError::Invalid(format!("CERTSCAN_CONFIG names {}, which is not a file", path.display())));
                }
                figment = figment.merge(Toml::file(path));
            }
            Err(_) => figment = figment.merge(Toml::file(cwd.join("certscan.toml"))),
        }
        let names = Settings::names();
        let names: Vec<&str> = names.iter().map(String::as_str).filter(|n| *n != "tokens").collect();
        figment = figment.merge(Env::prefixed("CERTSCAN_").only(&names));
        // Tokens have a compact form of their own in the environment.
        if let Ok(value) = std::env::var("CERTSCAN_TOKENS") {
            figment = figment.merge(Serialized::default("tokens", parse_tokens(&value)?));
        }
        let settings: Settings = figment.extract().map_err(|e| SettingsError::Invalid(e.to_string()))?;
        if settings.events_webhook_url.is_some() && settings.events_webhook_secret.as_ref().is_none_or(|s| s.0.len() < 16) {
            return Err(SettingsError::Invalid(
                "events_webhook_url needs events_webhook_secret (CERTSCAN_EVENTS_WEBHOOK_SECRET) of 16 or more characters".into(),
            ));
        }
        Ok(settings)
    }

    /// `CERTSCAN_*` variables of the process that are no setting (a typo, a script's own variable): the
    /// binary warns about each; they change nothing.
    pub fn unknown_variables() -> Vec<String> {
        let names = Settings::names();
        let mut unknown: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| {
                k.strip_prefix("CERTSCAN_").is_some_and(|rest| {
                    let rest = rest.to_ascii_lowercase();
                    !names.contains(&rest) && !NOT_SETTINGS.contains(&rest.as_str()) && !OWN_KNOBS.iter().any(|p| rest.starts_with(p))
                })
            })
            .collect();
        unknown.sort();
        unknown
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

/// Text settings from the environment: figment's `Env` types `CERTSCAN_AMQP_QUEUE=2026` as a number; a
/// text setting takes it as the text it was.
mod text {
    use std::fmt;
    use std::path::PathBuf;

    use serde::de::{self, Visitor};

    use super::Deserializer;

    struct Text;

    impl Visitor<'_> for Text {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    struct OptionalText;

    impl<'de> Visitor<'de> for OptionalText {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text or nothing")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: super::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Text).map(Some)
        }
    }

    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(Text)
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_option(OptionalText)
    }

    pub fn path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        text(d).map(PathBuf::from)
    }

    pub fn optional_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        optional(d).map(|p| p.map(PathBuf::from))
    }
}

#[cfg(test)]
// figment's Jail closures return figment::Error, which is large; fine in tests.
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

    use super::*;

    /// Runs `check` with an environment of exactly `vars` (figment's Jail: the process environment and
    /// working folder are the test's own, restored afterwards, one Jail at a time).
    fn with_env(vars: &[(&str, &str)], check: impl FnOnce(&Jail) -> Result<(), figment::Error>) {
        Jail::expect_with(|jail| {
            jail.clear_env();
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            check(jail)
        });
    }

    #[test]
    fn no_configuration_gives_the_embedded_defaults() {
        with_env(&[], |_| {
            let s = Settings::load().unwrap();
            assert_eq!(s, Settings::default());
            assert_eq!(s.calibration_dir(), PathBuf::from("certscan-data/calibration"));
            Ok(())
        });
    }

    #[test]
    fn a_file_is_overridden_by_environment_variables() {
        with_env(&[("CERTSCAN_DATA_DIR", "/srv/b")], |jail| {
            jail.create_file("certscan.toml", "data_dir = \"/srv/a\"\nlog_format = \"json\"\nmax_pages = 40\n")?;
            let s = Settings::load().unwrap();
            assert_eq!(s.data_dir, PathBuf::from("/srv/b"));
            assert_eq!(s.log_format, LogFormat::Json);
            assert_eq!(s.max_pages, 40);
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_a_file_is_an_error_not_silence() {
        with_env(&[], |jail| {
            jail.create_file("certscan.toml", "data_dri = \"/srv/a\"\n")?;
            let err = Settings::load().unwrap_err();
            assert!(err.to_string().contains("data_dri"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_named_by_the_variable_is_an_error() {
        with_env(&[("CERTSCAN_CONFIG", "nope.toml")], |_| {
            let err = Settings::load().unwrap_err();
            assert!(err.to_string().contains("nope.toml"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn every_documented_variable_sets_its_setting_with_its_type() {
        let vars = [
            ("CERTSCAN_DATA_DIR", "/srv/data"),
            ("CERTSCAN_PDFIUM_LIBRARY", "/opt/pdfium/libpdfium.so"),
            ("CERTSCAN_CALIBRATION_DIR", "/srv/calibration"),
            ("CERTSCAN_TEMPLATE", "/srv/blank.toml"),
            ("CERTSCAN_LOG_FORMAT", "json"),
            ("CERTSCAN_DATABASE_URL", "postgres://app@db/certscan"),
            ("CERTSCAN_AMQP_URL", "amqp://guest:guest@mq:5672/%2f"),
            // A number-like text stays text.
            ("CERTSCAN_AMQP_QUEUE", "2026"),
            ("CERTSCAN_AMQP_PREFETCH", "3"),
            ("CERTSCAN_OBJECT_STORE", "s3://bucket/prefix"),
            ("CERTSCAN_LISTEN", "0.0.0.0:9090"),
            ("CERTSCAN_TOKENS", "flow:portal:0123456789abcdef"),
            ("CERTSCAN_MAX_UPLOAD_MB", "5"),
            ("CERTSCAN_WORKERS", "2"),
            ("CERTSCAN_MAX_PAGES", "700"),
            ("CERTSCAN_JOB_DEADLINE_S", "120"),
            ("CERTSCAN_HEADER_TIMEOUT_S", "4"),
            ("CERTSCAN_BODY_TIMEOUT_S", "6"),
            ("CERTSCAN_REQUEST_TIMEOUT_S", "60"),
            ("CERTSCAN_MAX_CONNECTIONS", "64"),
            ("CERTSCAN_FIS_MAX_ROWS", "900"),
            ("CERTSCAN_FIS_MAX_MB", "2"),
            ("CERTSCAN_EVENTS_EXCHANGE", "2027"),
            ("CERTSCAN_EVENTS_WEBHOOK_URL", "https://hooks.example/certscan"),
            // A number-like secret stays text too.
            ("CERTSCAN_EVENTS_WEBHOOK_SECRET", "1234567890123456"),
        ];
        // Every setting has its variable here: a new setting must be added to this test.
        let mut named: Vec<String> = vars.iter().map(|(k, _)| k.trim_start_matches("CERTSCAN_").to_ascii_lowercase()).collect();
        named.sort();
        let mut names = Settings::names();
        names.sort();
        assert_eq!(named, names);
        with_env(&vars, |_| {
            let s = Settings::load().unwrap();
            let expected = Settings {
                data_dir: "/srv/data".into(),
                pdfium_library: Some("/opt/pdfium/libpdfium.so".into()),
                calibration_dir: Some("/srv/calibration".into()),
                template: Some("/srv/blank.toml".into()),
                log_format: LogFormat::Json,
                database_url: Some("postgres://app@db/certscan".into()),
                amqp_url: Some("amqp://guest:guest@mq:5672/%2f".into()),
                amqp_queue: "2026".into(),
                amqp_prefetch: 3,
                object_store: Some("s3://bucket/prefix".into()),
                listen: "0.0.0.0:9090".into(),
                tokens: vec![ApiToken { name: "flow".into(), role: Role::Portal, token: "0123456789abcdef".into() }],
                max_upload_mb: 5,
                workers: 2,
                max_pages: 700,
                job_deadline_s: 120,
                header_timeout_s: 4,
                body_timeout_s: 6,
                request_timeout_s: 60,
                max_connections: 64,
                fis_max_rows: 900,
                fis_max_mb: 2,
                events_exchange: "2027".into(),
                events_webhook_url: Some("https://hooks.example/certscan".into()),
                events_webhook_secret: Some(Secret("1234567890123456".into())),
            };
            assert_eq!(s, expected);
            assert!(Settings::unknown_variables().is_empty(), "{:?}", Settings::unknown_variables());
            Ok(())
        });
    }

    #[test]
    fn a_number_setting_given_text_names_the_variable() {
        with_env(&[("CERTSCAN_MAX_UPLOAD_MB", "five")], |_| {
            let err = Settings::load().unwrap_err();
            // figment names the key and its source: "MAX_UPLOAD_MB" in "`CERTSCAN_` environment variable(s)".
            let message = err.to_string();
            assert!(message.contains("\"MAX_UPLOAD_MB\"") && message.contains("CERTSCAN_") && message.contains("five"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn unknown_variables_are_named_for_a_warning_and_change_nothing() {
        let vars = [
            ("CERTSCAN_LOG", "info"),
            ("CERTSCAN_TEST_DATABASE_URL", "postgres://x"),
            ("CERTSCAN_BENCH_EXAMS", "8"),
            ("CERTSCAN_BIN", "/usr/local/bin/certscan"),
            ("CERTSCAN_DATABSE_URL", "postgres://x"),
        ];
        with_env(&vars, |_| {
            assert_eq!(Settings::load().unwrap(), Settings::default());
            assert_eq!(Settings::unknown_variables(), vec!["CERTSCAN_BIN".to_string(), "CERTSCAN_DATABSE_URL".to_string()]);
            Ok(())
        });
    }

    #[test]
    fn tokens_come_from_the_environment_in_compact_form() {
        with_env(&[("CERTSCAN_TOKENS", "flow:portal:0123456789abcdef, ct:testing_center:fedcba9876543210")], |_| {
            let s = Settings::load().unwrap();
            assert_eq!(s.tokens.len(), 2);
            assert_eq!(s.tokens[1].role, Role::TestingCenter);
            assert_eq!(s.tokens[1].name, "ct");
            assert!(!format!("{:?}", s.tokens[0]).contains("0123456789abcdef"), "Debug must not show the secret");
            Ok(())
        });
        with_env(&[("CERTSCAN_TOKENS", "flow:admin:0123456789abcdef")], |_| {
            let err = Settings::load().unwrap_err();
            assert!(err.to_string().contains("admin"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn an_explicit_pdfium_path_that_does_not_exist_is_reported() {
        let s = Settings { pdfium_library: Some("/nonexistent/libpdfium.so".into()), ..Settings::default() };
        let err = s.pdfium_library().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/libpdfium.so"), "{err}");
    }
}
