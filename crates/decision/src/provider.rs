//! Model providers.

use std::collections::VecDeque;
use std::sync::Mutex;

use contextos_action::{FixtureMiss, Recording};
use contextos_core::{ErrorKind, Kind, ModelRequest, ModelResponse};

use crate::drift::{model_call_number, request_drift};

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
    /// The recorded response; a miss names the model call, says whether the
    /// recording ran out (no recorded request has got that far) or the run
    /// asked for something else, and what differs from the nearest recorded
    /// request by tool name and message role.
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        match self.recording.lookup_explained(request, request_drift) {
            Ok((_, response)) => Ok(response),
            Err(mut miss) => {
                let call = model_call_number(request);
                let furthest = self.recording.requests().map(model_call_number).max().unwrap_or(0);
                let at = if call > furthest {
                    format!("model call {call} (recorded model responses ran out: the recording has {furthest})")
                } else {
                    format!("model call {call} (the run diverged from the recording)")
                };
                miss.call = Some(at.into());
                Err(miss.into())
            }
        }
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
    /// What differs, by tool name and message role (see [`request_drift`]).
    pub changes: Vec<String>,
}

/// Sequence replay state: the next call, the drift so far, and the call
/// that found no recorded response left.
#[derive(Debug, Default)]
struct SequenceState {
    next: usize,
    drift: Vec<RequestDrift>,
    ran_out_at: Option<usize>,
}

/// Replays recorded responses in call order, tolerating request drift (a
/// what-if replay after changing policies, packs or tools changes what the
/// model is shown) and reporting it.
#[derive(Debug)]
pub struct SequenceReplayModel {
    recorded: Vec<(ModelRequest, ModelResponse)>,
    state: Mutex<SequenceState>,
}

impl SequenceReplayModel {
    /// A provider replaying `recorded` interactions in order.
    pub fn new(recorded: Vec<(ModelRequest, ModelResponse)>) -> Self {
        Self {
            recorded,
            state: Mutex::new(SequenceState::default()),
        }
    }

    /// Calls whose request drifted from the recording, so far.
    pub fn drift(&self) -> Vec<RequestDrift> {
        self.state.lock().map(|s| s.drift.clone()).unwrap_or_default()
    }

    /// The 1-based model call that found no recorded response left, if one did.
    pub fn ran_out_at(&self) -> Option<usize> {
        self.state.lock().ok().and_then(|s| s.ran_out_at)
    }
}

impl ModelProvider for SequenceReplayModel {
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| ProviderError::Transport("replay lock poisoned".into()))?;
        let index = state.next;
        state.next += 1;
        let Some((recorded_request, response)) = self.recorded.get(index) else {
            state.ran_out_at.get_or_insert(index + 1);
            return Err(ProviderError::Exhausted("recorded sequence", index + 1));
        };
        if recorded_request != request {
            state.drift.push(RequestDrift {
                call: index + 1,
                changes: request_drift(recorded_request, request),
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
