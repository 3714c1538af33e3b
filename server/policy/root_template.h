#ifndef DURABLED_SERVER_POLICY_ROOT_TEMPLATE_H_
#define DURABLED_SERVER_POLICY_ROOT_TEMPLATE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/base/peer_credentials.h"

namespace durable {

// A rule's root as configured, maybe per caller: "/var/lib/agents/${uid}".
// Components after the first may hold the placeholders ${uid}, ${unit} and
// ${cgroup}; each expands to exactly one path component, so that no value
// can reach another caller's directory (a value that is empty, "." or "..",
// or holds '/', NUL or a control character expands to nothing). The
// longest placeholder-free prefix is the `base`, which is opened at start.
class RootTemplate {
 public:
  // INVALID_ARGUMENT, saying why, unless `root` is a clean absolute path
  // whose placeholders are known and sit below its first component.
  static absl::StatusOr<RootTemplate> Parse(absl::string_view root);

  const std::string& text() const { return text_; }
  // The directory opened at start: the root itself if it has no
  // placeholders.
  const std::string& base() const { return base_; }
  bool per_caller() const { return !rest_.empty(); }

  // The caller's components below base ("1000" for ".../${uid}"), joined by
  // '/'; "" if not per caller. nullopt if a placeholder has no valid value
  // for this caller: the rule does not govern it.
  std::optional<std::string> RelativeFor(const PeerCredentials& caller) const;

  // base() joined with RelativeFor(caller).
  std::optional<std::string> ExpandFor(const PeerCredentials& caller) const;

 private:
  std::string text_;
  std::string base_;
  std::vector<std::string> rest_;  // components below base, unexpanded
};

// True if `value` may stand as one path component: not empty, not "." or
// "..", at most NAME_MAX bytes, no '/', NUL or control character.
bool IsSingleComponent(absl::string_view value);

// The value of ${cgroup} for a caller: the last component of its cgroup
// path; nullopt if the cgroup is unknown or is the hierarchy's root.
std::optional<std::string> CgroupLeafOf(const PeerCredentials& caller);

}  // namespace durable

#endif  // DURABLED_SERVER_POLICY_ROOT_TEMPLATE_H_
