#ifndef DURABLED_SERVER_ENGINE_SYNC_OBSERVER_H_
#define DURABLED_SERVER_ENGINE_SYNC_OBSERVER_H_

namespace durable {

// Told of every fsync the engine's filesystem makes, for counters. Owned by
// the engine so that whoever counts (the daemon's metrics) depends on the
// engine, never the other way round. Called from any thread; must be cheap
// and must not block.
class SyncObserver {
 public:
  virtual ~SyncObserver() = default;
  virtual void OnSync(bool directory, bool ok) = 0;
  // A syncfs of a whole filesystem (a batch's data flush).
  virtual void OnFilesystemSync(bool ok) = 0;
};

}  // namespace durable

#endif  // DURABLED_SERVER_ENGINE_SYNC_OBSERVER_H_
