//! Model providers.

use std::collections::VecDeque;
use std::sync::Mutex;

use contextos_action::{FixtureMiss, Recording, differing_pointers};
use contextos_core::{ErrorKind, Kind, ModelRequest, ModelResponse};

/// Why a provider produced no response.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum ProviderError {
    /// No recorded response for this request.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Miss(#[from] FixtureMiss),
    /// A scripted or replayed provider ran out of responses.
    #[error("the {0} has no response left for model call {1}")]
    Exhausted(&'static str, usize),
    /// The transport failed.
    #[error("model transport failed: {0}")]
    Transport(String),
    /// The provider is configured wrongly (a missing key, a bad endpoint).
    #[error("{0}")]
    Config(String),
}

impl Kind for ProviderError {
    /// Exit-code kind.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Miss(_) | Self::Exhausted(..) => ErrorKind::FixtureMiss,
            Self::Transport(_) | Self::Config(_) => ErrorKind::Input,
        }
    }
}

/// A source of model responses.
pub trait ModelProvider: Send + Sync {
    /// The response to `request`.
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError>;
}

/// A borrowed provider is a provider (so wrappers such as `RecordingModel` take `&dyn ModelProvider`).
impl<T: ModelProvider + ?Sized> ModelProvider for &T {
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        (**self).complete(request)
    }
}

/// Recorded responses keyed by the digest of the canonical request.
#[derive(Debug, Clone)]
pub struct RecordedModel {
    recording: Recording<ModelRequest, ModelResponse>,
}

impl RecordedModel {
    /// A provider over `recording`.
    pub fn new(recording: Recording<ModelRequest, ModelResponse>) -> Self {
        Self { recording }
    }
}

impl ModelProvider for RecordedModel {
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        Ok(self.recording.lookup(request)?.1)
    }
}

/// Responses given in order whatever the request: for authoring fixtures
/// (`contextos run --script`), never for replay.
#[derive(Debug)]
pub struct ScriptedModel {
    responses: Mutex<VecDeque<ModelResponse>>,
    served: Mutex<usize>,
}

impl ScriptedModel {
    /// A provider answering with `responses` in order.
    pub fn new(responses: Vec<ModelResponse>) -> Self {
        Self {
            responses: Mutex::new(responses.into()),
            served: Mutex::new(0),
        }
    }
}

impl ModelProvider for ScriptedModel {
    fn complete(&self, _request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        let mut served = self
            .served
            .lock()
            .map_err(|_| ProviderError::Transport("script lock poisoned".into()))?;
        *served += 1;
        let next = self
            .responses
            .lock()
            .map_err(|_| ProviderError::Transport("script lock poisoned".into()))?
            .pop_front();
        next.ok_or(ProviderError::Exhausted("script", *served))
    }
}

/// One model call of a sequence replay whose request differs from the recorded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestDrift {
    /// 1-based model call number.
    pub call: usize,
    /// JSON pointers where the new request differs from the recorded one.
    pub pointers: Vec<String>,
}

/// Replays recorded responses in call order, tolerating request drift (a
/// what-if replay after changing policies, packs or tools changes what the
/// model is shown) and reporting it.
#[derive(Debug)]
pub struct SequenceReplayModel {
    recorded: Vec<(ModelRequest, ModelResponse)>,
    state: Mutex<(usize, Vec<RequestDrift>)>,
}

impl SequenceReplayModel {
    /// A provider replaying `recorded` interactions in order.
    pub fn new(recorded: Vec<(ModelRequest, ModelResponse)>) -> Self {
        Self {
            recorded,
            state: Mutex::new((0, Vec::new())),
        }
    }

    /// Calls whose request drifted from the recording, so far.
    pub fn drift(&self) -> Vec<RequestDrift> {
        self.state.lock().map(|s| s.1.clone()).unwrap_or_default()
    }
}

impl ModelProvider for SequenceReplayModel {
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| ProviderError::Transport("replay lock poisoned".into()))?;
        let index = state.0;
        state.0 += 1;
        let (recorded_request, response) = self
            .recorded
            .get(index)
            .ok_or(ProviderError::Exhausted("recorded sequence", index + 1))?;
        if recorded_request != request {
            let a = serde_json::to_value(recorded_request).unwrap_or_default();
            let b = serde_json::to_value(request).unwrap_or_default();
            state.1.push(RequestDrift {
                call: index + 1,
                pointers: differing_pointers(&a, &b),
            });
        }
        Ok(response.clone())
    }
}

/// Wraps a provider and keeps every interaction, for `--record`.
#[derive(Debug)]
pub struct RecordingModel<P> {
    inner: P,
    log: Mutex<Vec<(ModelRequest, ModelResponse)>>,
}

impl<P: ModelProvider> RecordingModel<P> {
    /// Records what `inner` answers.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The interactions so far, in call order.
    pub fn interactions(&self) -> Vec<(ModelRequest, ModelResponse)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl<P: ModelProvider> ModelProvider for RecordingModel<P> {
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        let response = self.inner.complete(request)?;
        if let Ok(mut log) = self.log.lock() {
            log.push((request.clone(), response.clone()));
        }
        Ok(response)
    }
}
