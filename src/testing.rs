//! Support for tests and benchmarks, not for the lake: a throwaway
//! PostgreSQL cluster (`strata bench --extract` and the test suite start
//! one when no `DATABASE_URL` is given).
//!
//! The cluster is made by `initdb` into a
//! temporary folder, started on a free loopback port, stopped and removed
//! when the process that made it exits.
//!
//! It uses the installed server binaries (Debian's `postgresql` package puts
//! them in `/usr/lib/postgresql/<version>/bin`). PostgreSQL refuses to run as
//! root, so as root the server runs as the `postgres` user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// A running throwaway cluster.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    password: String,
}

impl Cluster {
    /// Creates and starts a cluster with password (scram) auth over TCP.
    pub fn start() -> Result<Self> {
        let bin = find_bin_dir()?;
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("strata-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let password = format!("pw{:016x}", rand::random::<u64>());
        std::fs::write(dir.join("pwfile"), &password).map_err(|e| Error::io(&dir, e))?;
        let as_root = crate::sys::is_root();
        if as_root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| Error::io("chown", e))?;
            if !status.success() {
                return Err(Error::source(
                    "cannot give the cluster folder to the postgres user",
                ));
            }
        }
        let data = dir.join("data");
        run_as_server_user(
            as_root,
            &bin.join("initdb"),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "--pwfile".as_ref(),
                dir.join("pwfile").as_os_str(),
                "--no-sync".as_ref(),
            ],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100 -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20 -c wal_sender_timeout=2s",
            dir.display()
        );
        run_as_server_user(
            as_root,
            &bin.join("pg_ctl"),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-l".as_ref(),
                dir.join("server.log").as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )?;
        let cluster = Cluster {
            dir,
            bin,
            port,
            password,
        };
        cluster.watch_parent(as_root)?;
        Ok(cluster)
    }

    /// A URL for `database` as the superuser over TCP, with the password.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{database}?sslmode=disable",
            self.password, self.port
        )
    }

    /// The server's password (tests check it never leaks).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server and removes the cluster after this process exits,
    /// whatever way it exits: a test harness never runs destructors of
    /// statics, so a small shell process waits for ours to end.
    fn watch_parent(&self, as_root: bool) -> Result<()> {
        let stop = format!(
            "{} -D {} -m immediate stop",
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display()
        );
        let stop = if as_root {
            format!("runuser -u postgres -- {stop}")
        } else {
            stop
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            dir = self.dir.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io("sh", e))?;
        Ok(())
    }
}

fn run_as_server_user(as_root: bool, program: &Path, args: &[&std::ffi::OsStr]) -> Result<()> {
    let mut cmd = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .map_err(|e| Error::io(program, e))?;
    if !out.status.success() {
        return Err(Error::source(format!(
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Finds `initdb`: on PATH, else the newest `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).ok_or_else(|| {
        Error::source(
            "no PostgreSQL server binaries (initdb, pg_ctl) found: install them \
             (apt-get install -y postgresql) or set DATABASE_URL to a server",
        )
    })
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("127.0.0.1:0", e))?;
    Ok(listener
        .local_addr()
        .map_err(|e| Error::io("127.0.0.1:0", e))?
        .port())
}
