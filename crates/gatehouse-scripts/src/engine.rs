//! The sandbox's threads and one run's event loop.
//!
//! A [`Sandbox`] owns a few threads, each with one QuickJS runtime (rebuilt after a run
//! that hit a limit). A run gets a fresh context, the prelude, and its job; the loop then
//! alternates between the engine's job queue and the answers of what the script started
//! on the async runtime, until the harness's promise settles or the deadline passes.
//!
//! What every run needs before its job is done off the request's path: after each run
//! (and before the first) the thread makes the next run's context, fresh, with the
//! prelude loaded, then waits for a task. The prelude is parsed once per thread; its
//! bytecode is loaded into each new context (a fraction of parsing its source again).
//! Only code is shared that way: every object a run sees was made in its own context,
//! which serves that one run and is dropped. The context's host functions reach the
//! run they serve through a slot the run fills in ([`Prepared`]).

use crate::host::{self, HostEnv, RunState};
use crate::memory::CountingAllocator;
use crate::ScriptError;
use rquickjs::{Context, Ctx, Exception, Function, Module, Object, Promise, Runtime};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const PRELUDE: &str = include_str!("js/prelude.js");

/// What every run is held to, and the sandbox's size.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a run may take, from the moment it is asked for (Auth0: 20 s).
    pub timeout: Duration,
    /// The most memory one run's JavaScript heap may hold.
    pub memory_bytes: usize,
    /// The hosts scripts may connect to (HTTP, MySQL, PostgreSQL): exact names, or
    /// `*.example.com` for its subdomains. Empty: none.
    pub allowed_hosts: Vec<String>,
    /// Sandbox threads (runs beyond these wait for one, within their deadline).
    pub threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(20), memory_bytes: 64 << 20, allowed_hosts: Vec::new(), threads: 2 }
    }
}

/// One run.
#[derive(Debug, Clone)]
pub enum Job {
    /// An Action: the CommonJS module `code` is evaluated and its export `handler`
    /// (`onExecutePostLogin`, …) called with `event` (whose `secrets` are `secrets`) and
    /// the trigger's `api`. The output is `{"commands": [[name, args…], …]}`, the `api`
    /// calls in the order made.
    Action { trigger: String, handler: String, code: String, event: Value, secrets: Map<String, Value> },
    /// A custom database script: the function `source` is called with `args` and a
    /// callback, with the connection's `configuration` as a global. The output is
    /// `{"args": [...]}` (what followed a null error) or `{"error": {name, message, code}}`.
    DbScript { source: String, args: Vec<Value>, configuration: Map<String, Value> },
}

impl Job {
    /// The values a run's logs and errors must never show.
    fn secrets(&self) -> Vec<String> {
        let values = match self {
            Job::Action { secrets, .. } => secrets.values(),
            Job::DbScript { configuration, .. } => configuration.values(),
        };
        values.filter_map(Value::as_str).filter(|s| s.len() >= 3).map(str::to_string).collect()
    }

    fn to_json(&self) -> Value {
        match self {
            Job::Action { trigger, handler, code, event, secrets } => {
                json!({"kind": "action", "trigger": trigger, "handler": handler, "code": code, "event": event, "secrets": secrets})
            }
            Job::DbScript { source, args, configuration } => {
                json!({"kind": "db", "source": source, "args": args, "configuration": configuration})
            }
        }
    }
}

/// What a run gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub value: Value,
    /// The script's console output, secrets redacted.
    pub logs: Vec<String>,
    /// How long the run took on its thread.
    pub elapsed: Duration,
}

struct Task {
    job: Job,
    /// The run's time limit, and when it ends.
    timeout: Duration,
    deadline: Instant,
    reply: tokio::sync::oneshot::Sender<Result<Output, ScriptError>>,
}

/// The sandbox. Cheap to clone; clones share threads. The threads end when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Mutex<mpsc::Sender<Task>>,
    limits: Limits,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("limits", &self.inner.limits).finish()
    }
}

impl Sandbox {
    /// Starts the sandbox's threads. Must be called within a Tokio runtime: what scripts
    /// start (queries, HTTP calls) runs on it.
    pub fn new(limits: Limits) -> Result<Self, ScriptError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| ScriptError::Internal("the sandbox needs a Tokio runtime".into()))?;
        let env = Arc::new(HostEnv::new(&limits).map_err(ScriptError::Internal)?);
        let (tx, rx) = mpsc::channel::<Task>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..limits.threads.max(1) {
            let rx = rx.clone();
            let env = env.clone();
            let handle = handle.clone();
            let memory = limits.memory_bytes;
            std::thread::Builder::new()
                .name(format!("gatehouse-js-{n}"))
                .stack_size(8 << 20)
                .spawn(move || worker(&rx, &env, &handle, memory))
                .map_err(|e| ScriptError::Internal(format!("starting a sandbox thread: {e}")))?;
        }
        Ok(Self { inner: Arc::new(Inner { tx: Mutex::new(tx), limits }) })
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Runs `job` within the sandbox's limits.
    pub async fn run(&self, job: Job) -> Result<Output, ScriptError> {
        self.run_within(job, self.inner.limits.timeout).await
    }

    /// Runs `job` within `timeout` (at most the sandbox's own limit).
    pub async fn run_within(&self, job: Job, timeout: Duration) -> Result<Output, ScriptError> {
        let timeout = timeout.min(self.inner.limits.timeout);
        let deadline = Instant::now() + timeout;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let task = Task { job, timeout, deadline, reply };
        self.inner
            .tx
            .lock()
            .map_err(|_| ScriptError::Internal("the sandbox's queue is poisoned".into()))?
            .send(task)
            .map_err(|_| ScriptError::Internal("the sandbox's threads are gone".into()))?;
        // The thread stops the script at the deadline; this bound is the last resort.
        match tokio::time::timeout(timeout + Duration::from_secs(2), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ScriptError::Internal("a sandbox thread ended during a run".into())),
            Err(_) => Err(ScriptError::Timeout(timeout.as_millis() as u64)),
        }
    }
}

/// What a thread's interrupt handler watches: the run's deadline, the memory its
/// runtime holds, and whether it stopped the run for memory.
#[derive(Clone)]
struct Watch {
    base: Instant,
    deadline: Arc<AtomicU64>,
    live: Arc<AtomicUsize>,
    over_memory: Arc<AtomicBool>,
    memory: usize,
}

impl Watch {
    fn should_stop(&self) -> bool {
        if self.live.load(Ordering::Relaxed) > self.memory {
            self.over_memory.store(true, Ordering::Relaxed);
            return true;
        }
        self.base.elapsed().as_nanos() as u64 >= self.deadline.load(Ordering::Relaxed)
    }
}

/// A sandbox thread: one runtime, reused until a run hits a limit, and the context
/// prepared for its next run.
fn worker(rx: &Mutex<mpsc::Receiver<Task>>, env: &Arc<HostEnv>, handle: &tokio::runtime::Handle, memory: usize) {
    let base = Instant::now();
    let deadline = Arc::new(AtomicU64::new(u64::MAX));
    let mut prelude: Option<Vec<u8>> = None;
    let mut runtime: Option<(Runtime, Watch)> = None;
    // Declared after the runtime, so dropped before it.
    let mut ready: Option<Prepared> = None;
    loop {
        if ready.is_none() {
            if runtime.is_none() {
                runtime = new_runtime(base, deadline.clone(), memory).ok();
            }
            if let Some((rt, _)) = &runtime {
                ready = prepare(rt, &mut prelude, env, handle).ok();
            }
        }
        let task = match rx.lock() {
            Ok(rx) => match rx.recv() {
                Ok(t) => t,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let started = Instant::now();
        let timeout_ms = task.timeout.as_millis() as u64;
        if started >= task.deadline {
            let _ = task.reply.send(Err(ScriptError::Timeout(timeout_ms)));
            continue;
        }
        // What the loop's head could not make (it failed), made again to report why.
        let (rt, watch) = match runtime.take() {
            Some(kept) => kept,
            None => match new_runtime(base, deadline.clone(), memory) {
                Ok(made) => made,
                Err(e) => {
                    let _ = task.reply.send(Err(e));
                    continue;
                }
            },
        };
        let prepared = match ready.take() {
            Some(p) => p,
            None => match prepare(&rt, &mut prelude, env, handle) {
                Ok(p) => p,
                Err(e) => {
                    runtime = Some((rt, watch));
                    let _ = task.reply.send(Err(e));
                    continue;
                }
            },
        };
        watch.over_memory.store(false, Ordering::Relaxed);
        deadline.store(task.deadline.saturating_duration_since(base).as_nanos() as u64, Ordering::Relaxed);
        let result = run(prepared, &task.job, task.deadline, timeout_ms, &watch.over_memory);
        deadline.store(u64::MAX, Ordering::Relaxed);
        let result = match result {
            _ if watch.over_memory.load(Ordering::Relaxed) => Err(ScriptError::Memory(memory)),
            Err(ScriptError::Memory(_)) => Err(ScriptError::Memory(memory)),
            other => other,
        };
        let result = result.map(|(value, logs)| Output { value, logs, elapsed: started.elapsed() });
        // A runtime that hit a limit may hold what the script left: start afresh.
        let keep = !matches!(&result, Err(e) if e.is_limit());
        let _ = task.reply.send(result);
        if keep {
            rt.run_gc();
            runtime = Some((rt, watch));
        }
    }
}

/// A runtime whose allocator counts what it holds (`memory`), interrupted at the deadline
/// or past `memory` bytes; allocations fail only past twice that.
fn new_runtime(base: Instant, deadline: Arc<AtomicU64>, memory: usize) -> Result<(Runtime, Watch), ScriptError> {
    let live = Arc::new(AtomicUsize::new(0));
    let allocator = CountingAllocator::new(live.clone(), memory.saturating_mul(2));
    let rt =
        Runtime::new_with_alloc(allocator).map_err(|e| ScriptError::Internal(format!("creating a runtime: {e}")))?;
    rt.set_max_stack_size(1 << 20);
    let watch = Watch { base, deadline, live, over_memory: Arc::new(AtomicBool::new(false)), memory };
    let w = watch.clone();
    rt.set_interrupt_handler(Some(Box::new(move || w.should_stop())));
    Ok((rt, watch))
}

/// The prelude as QuickJS bytecode: compiled (never run) in a context of its own as a
/// module, the one kind of code rquickjs writes out and loads back.
fn compile_prelude(rt: &Runtime) -> Result<Vec<u8>, ScriptError> {
    let ctx = Context::full(rt).map_err(|e| ScriptError::Internal(format!("creating a context: {e}")))?;
    ctx.with(|ctx| {
        let module = Module::declare(ctx.clone(), "prelude.js", PRELUDE).map_err(|e| engine_error(&ctx, e))?;
        module.write_le().map_err(|e| engine_error(&ctx, e))
    })
}

/// The run a prepared context serves: its state and where its operations answer.
struct Binding {
    state: Rc<RunState>,
    tx: mpsc::Sender<(u64, Result<String, String>)>,
    rx: mpsc::Receiver<(u64, Result<String, String>)>,
}

/// A fresh context with the prelude loaded, for exactly one run. Its host functions
/// serve whichever run `binding` names (none until the run starts).
struct Prepared {
    ctx: Context,
    binding: Rc<RefCell<Option<Rc<Binding>>>>,
}

/// The next run's context: fresh, the host's functions installed and the prelude loaded
/// (compiled first, once per thread).
fn prepare(
    rt: &Runtime,
    prelude: &mut Option<Vec<u8>>,
    env: &Arc<HostEnv>,
    handle: &tokio::runtime::Handle,
) -> Result<Prepared, ScriptError> {
    let bytecode = match prelude {
        Some(b) => b,
        None => prelude.insert(compile_prelude(rt)?),
    };
    let ctx = Context::full(rt).map_err(|e| ScriptError::Internal(format!("creating a context: {e}")))?;
    let binding = Rc::new(RefCell::new(None));
    ctx.with(|ctx| -> Result<(), ScriptError> {
        install_host(&ctx, &binding, env, handle).map_err(|e| engine_error(&ctx, e))?;
        load_prelude(&ctx, bytecode).map_err(|e| engine_error(&ctx, e))?;
        ctx.globals().remove("__host").map_err(|e| engine_error(&ctx, e))
    })?;
    Ok(Prepared { ctx, binding })
}

/// Evaluates the prelude's bytecode in `ctx`.
fn load_prelude(ctx: &Ctx<'_>, bytecode: &[u8]) -> rquickjs::Result<()> {
    // SAFETY: `Module::load` trusts its bytes to be bytecode QuickJS wrote. These are:
    // `compile_prelude` made them with `Module::write_le`, from this crate's own source,
    // in this process and with this same engine, and they never leave the thread that
    // made them (nothing from outside, no file, reaches them). QuickJS copies what it
    // reads, so the bytes need not outlive the context.
    #[allow(unsafe_code)]
    let module = unsafe { Module::load(ctx.clone(), bytecode)? };
    let (_, done) = module.eval()?;
    // The prelude awaits nothing: its body ran within `eval`; the promise only says so.
    while ctx.execute_pending_job() {}
    done.result::<()>().unwrap_or(Ok(()))
}

/// One run in its prepared context: the job, then the event loop until the harness
/// answers. The context is dropped with the run.
fn run(
    prepared: Prepared,
    job: &Job,
    deadline: Instant,
    timeout_ms: u64,
    over_memory: &AtomicBool,
) -> Result<(Value, Vec<String>), ScriptError> {
    let Prepared { ctx, binding: slot } = prepared;
    let (tx, rx) = mpsc::channel::<(u64, Result<String, String>)>();
    let state = Rc::new(RunState::new(job.secrets(), deadline));
    let binding = Rc::new(Binding { state: state.clone(), tx, rx });
    *slot.borrow_mut() = Some(binding.clone());
    let timed_out = || ScriptError::Timeout(timeout_ms);
    let answer = ctx.with(|ctx| -> Result<String, ScriptError> {
        let start: Function = ctx.globals().get("__gh_run").map_err(|e| engine_error(&ctx, e))?;
        let complete: Function = ctx.globals().get("__gh_complete").map_err(|e| engine_error(&ctx, e))?;
        let promise: Promise = start.call((job.to_json().to_string(),)).map_err(|e| engine_error(&ctx, e))?;
        loop {
            while ctx.execute_pending_job() {}
            if over_memory.load(Ordering::Relaxed) {
                return Err(ScriptError::Memory(0));
            }
            if Instant::now() >= deadline {
                return Err(timed_out());
            }
            if let Some(settled) = promise.result::<String>() {
                return settled.map_err(|e| engine_error(&ctx, e));
            }
            if state.outstanding() == 0 {
                return Err(ScriptError::NoCallback);
            }
            match binding.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((id, result)) => {
                    state.finished();
                    let (ok, payload) = match result {
                        Ok(v) => (true, v),
                        Err(e) => (false, e),
                    };
                    complete.call::<_, ()>((id as f64, ok, payload)).map_err(|e| engine_error(&ctx, e))?;
                }
                Err(_) => return Err(timed_out()),
            }
        }
    });
    *slot.borrow_mut() = None;
    drop(ctx);
    state.abort_all();
    let logs = state.take_logs();
    let answer: Value =
        serde_json::from_str(&answer?).map_err(|e| ScriptError::Internal(format!("the harness's answer: {e}")))?;
    if answer["ok"] == json!(true) {
        return Ok((answer["value"].clone(), logs));
    }
    let error = &answer["error"];
    let text = |k: &str| error[k].as_str().map(|s| state.redact(s));
    let name = text("name").unwrap_or_else(|| "Error".into());
    let message = text("message").unwrap_or_default();
    if message == "out of memory" {
        return Err(ScriptError::Memory(0));
    }
    if message == "interrupted" && Instant::now() >= deadline {
        return Err(timed_out());
    }
    Err(ScriptError::Thrown { name, message, code: text("code") })
}

/// An engine error as a [`ScriptError`] (a memory error's limit is filled in by the
/// worker): the pending exception's text if there is one.
fn engine_error(ctx: &Ctx<'_>, e: rquickjs::Error) -> ScriptError {
    if let rquickjs::Error::Exception = e {
        let thrown = ctx.catch();
        if let Some(ex) = thrown.as_exception() {
            let message = ex.message().unwrap_or_default();
            if message == "out of memory" {
                return ScriptError::Memory(0);
            }
            return ScriptError::Thrown { name: "Error".into(), message, code: None };
        }
        return ScriptError::Internal("the engine raised a non-error exception".into());
    }
    ScriptError::Internal(e.to_string())
}

/// `__host.sync(op, json)` and `__host.start(op, json)`, which the prelude captures; they
/// act for the run `binding` names, and throw when there is none.
fn install_host<'js>(
    ctx: &Ctx<'js>,
    binding: &Rc<RefCell<Option<Rc<Binding>>>>,
    env: &Arc<HostEnv>,
    handle: &tokio::runtime::Handle,
) -> rquickjs::Result<()> {
    let host_obj = Object::new(ctx.clone())?;
    let (slot, e) = (binding.clone(), env.clone());
    host_obj.set(
        "sync",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, op: String, arg: String| -> rquickjs::Result<String> {
            let b = current(&ctx, &slot)?;
            host::sync_op(&e, &b.state, &op, &arg).map_err(|m| Exception::throw_message(&ctx, &m))
        })?,
    )?;
    let (slot, e, handle) = (binding.clone(), env.clone(), handle.clone());
    host_obj.set(
        "start",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, op: String, arg: String| -> rquickjs::Result<f64> {
            let b = current(&ctx, &slot)?;
            let id = b.state.started();
            let (env, tx, deadline) = (e.clone(), b.tx.clone(), b.state.deadline());
            let task = handle.spawn(async move {
                let at = tokio::time::Instant::from_std(deadline);
                let result = match tokio::time::timeout_at(at, host::async_op(&env, &op, &arg)).await {
                    Ok(r) => r,
                    Err(_) => Err(host::op_error("the operation did not finish before the script's deadline", None)),
                };
                let _ = tx.send((id, result));
            });
            b.state.track(task.abort_handle());
            Ok(id as f64)
        })?,
    )?;
    ctx.globals().set("__host", host_obj)
}

/// The run a host function acts for.
fn current(ctx: &Ctx<'_>, slot: &RefCell<Option<Rc<Binding>>>) -> rquickjs::Result<Rc<Binding>> {
    slot.borrow().clone().ok_or_else(|| Exception::throw_message(ctx, "no run is in progress"))
}
