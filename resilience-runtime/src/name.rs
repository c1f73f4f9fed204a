//! [`InstanceName`]: how a breaker, bulkhead, retry or timeout is known in errors and metrics.
//!
//! An instance is named either explicitly (`name = "payment"`; instances with the same explicit
//! name are one shared instance) or after the function it guards. The function's path is only
//! known to the type system (a method's path includes its `impl` type, which an attribute macro
//! never sees), so the macro declares a marker type inside the function and the name is read
//! from [`core::any::type_name`] when first asked for. That is a constant-time slice of a
//! `&'static str`: no allocation, no lock.

/// The name of one resilience instance.
///
/// ```
/// use resilience_runtime::InstanceName;
///
/// let shared = InstanceName::given("payment");
/// assert_eq!(shared.get(), "payment");
/// assert!(shared.is_shared());
///
/// fn charge() -> InstanceName {
///     struct Site;
///     InstanceName::site::<Site>()
/// }
/// assert!(charge().get().ends_with("::charge"));
/// assert!(!charge().is_shared());
///
/// async fn refund() -> InstanceName {
///     struct Site;
///     InstanceName::site::<Site>()
/// }
/// # futures_lite_block_on(async {
/// assert!(refund().await.get().ends_with("::refund"));
/// # });
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct InstanceName(Repr);

#[derive(Clone, Copy)]
enum Repr {
    Given(&'static str),
    Site(fn() -> &'static str),
}

impl InstanceName {
    /// An explicit name: every instance declared with the same one is the same instance.
    /// It should not be empty (the attributes refuse `name = ""`): it names the instance in
    /// errors, snapshots and override keys.
    pub const fn given(name: &'static str) -> Self {
        Self(Repr::Given(name))
    }

    /// The path of the function that declares the marker type `S` (the marker's own name is
    /// cut off). Such an instance belongs to that function alone. For generated code.
    #[doc(hidden)]
    pub const fn site<S>() -> Self {
        Self(Repr::Site(site_path::<S>))
    }

    /// The name as errors, snapshots and metrics show it.
    pub fn get(&self) -> &'static str {
        match self.0 {
            Repr::Given(name) => name,
            Repr::Site(path) => path(),
        }
    }

    /// Whether the name was given explicitly, making the instance shared by that name.
    pub const fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Given(_))
    }
}

/// Two names are equal when they read the same and are both given or both a function's.
impl PartialEq for InstanceName {
    fn eq(&self, other: &Self) -> bool {
        self.is_shared() == other.is_shared() && self.get() == other.get()
    }
}

impl Eq for InstanceName {}

impl std::fmt::Debug for InstanceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

/// `crate::Client::charge::{{closure}}::Marker` → `crate::Client::charge`: the marker is
/// declared in the body of an `async fn`, which the compiler names as a closure.
fn site_path<S>() -> &'static str {
    let full = core::any::type_name::<S>();
    let mut path = full.rsplit_once("::").map_or(full, |(path, _marker)| path);
    while let Some(outer) = path.strip_suffix("::{{closure}}") {
        path = outer;
    }
    path
}
