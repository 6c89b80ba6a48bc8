//! The one way the commands start a collector (`serve` and `demo`): open the store, prune old
//! nonces every ten minutes, bind the public and (optionally) the operator's listener, serve until
//! SIGINT or SIGTERM with the connection limits, then close the store.

use dpseg_collector::serve::ConnectionLimits;

use crate::common::Failure;

/// Where the collector listens: the public address and, optionally, the operator's.
pub struct Listeners<'a> {
    pub public: &'a str,
    pub admin: Option<&'a str>,
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, Failure> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure(format!("cannot listen on {addr}: {e}"), 2))
}

/// Runs the collector until SIGINT or SIGTERM; open connections get the shutdown deadline to
/// finish, then the store closes.
pub async fn serve(
    catalog: dpseg_collector::Catalog,
    db: &str,
    listeners: Listeners<'_>,
    config: dpseg_collector::Config,
    limits: ConnectionLimits,
    on_listen: impl FnOnce(std::net::SocketAddr),
) -> Result<(), Failure> {
    let store =
        dpseg_collector::store::Store::open(db).await.map_err(|e| Failure(e.to_string(), 2))?;
    let campaigns = catalog.all().len();
    let state = dpseg_collector::AppState::new(catalog, store.clone(), config);
    let pruner = state.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = pruner.prune().await {
                eprintln!("dpseg-collector: pruning nonces failed: {e}");
            }
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
        }
    });
    let listener = bind(listeners.public).await?;
    let admin = match listeners.admin {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let addr = listener.local_addr()?;
    let backend = if db.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    eprintln!("dpseg-collector: serving {campaigns} campaign(s) on http://{addr} ({backend})");
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let admin_task = match admin {
        Some(admin) => {
            eprintln!("dpseg-collector: operator endpoints on http://{}", admin.local_addr()?);
            let router = dpseg_collector::admin_app(state.clone());
            let stop = until_stopped(stopped.clone());
            Some(tokio::spawn(dpseg_collector::serve::serve(admin, router, limits, stop)))
        }
        None => None,
    };
    on_listen(addr);
    let app = dpseg_collector::app(state);
    dpseg_collector::serve::serve(listener, app, limits, until_stopped(stopped)).await?;
    if let Some(t) = admin_task {
        let _ = t.await;
    }
    store.close().await;
    eprintln!("dpseg-collector: stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
