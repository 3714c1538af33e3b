// The unit's CapabilityBoundingSet= is exactly what durabled needs: with
// those capabilities only (and no_new_privs, as NoNewPrivileges=yes sets
// it), writes that create files for other owners, write into other users'
// private directories and replace other users' files in sticky directories
// succeed; without any one of them, one of those writes fails.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/lifecycle_util.h"
#include "tests/support/held_stream.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

constexpr uid_t kOwner = 4242;        // create_owner: OWNER_FIXED
constexpr uid_t kDirOwner = 4243;     // owns a 0700 directory
constexpr uid_t kStickyOwner = 4244;  // owns a 01777 directory
constexpr uid_t kFileOwner = 4245;    // owns a file in it

// CAP_CHOWN ... as listed by CapabilityBoundingSet= in deploy/durabled.service.
std::vector<std::string> UnitCapabilities() {
  std::ifstream in(SourceDir() + "/deploy/durabled.service");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view value = line;
    if (absl::ConsumePrefix(&value, "CapabilityBoundingSet=")) {
      return absl::StrSplit(value, ' ', absl::SkipEmpty());
    }
  }
  return {};
}

// setpriv's spelling: CAP_DAC_OVERRIDE -> dac_override.
std::string SetprivName(absl::string_view capability) {
  absl::ConsumePrefix(&capability, "CAP_");
  return absl::AsciiStrToLower(capability);
}

// Whether this process has every capability durabled may get (bits of
// CAP_CHOWN 0, CAP_DAC_OVERRIDE 1, CAP_FOWNER 3).
bool HaveCapabilities() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view value = line;
    if (absl::ConsumePrefix(&value, "CapEff:")) {
      uint64_t bits = 0;
      return absl::SimpleHexAtoi(absl::StripAsciiWhitespace(value), &bits) &&
             (bits & 0xb) == 0xb;
    }
  }
  return false;
}

class CapabilitiesTest : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || !HaveCapabilities()) {
      GTEST_SKIP() << "needs root with CAP_CHOWN, CAP_DAC_OVERRIDE and "
                      "CAP_FOWNER to hand them to the daemon";
    }
    setpriv_ = FindExecutable({"/usr/bin/setpriv", "/bin/setpriv"});
    if (setpriv_.empty()) {
      GTEST_SKIP() << "setpriv not found (Debian package util-linux)";
    }
    capabilities_ = UnitCapabilities();
    ASSERT_FALSE(capabilities_.empty())
        << "no CapabilityBoundingSet= in deploy/durabled.service";
  }

  // Starts durabled with only `capabilities` in its bounding set, as the
  // unit starts it, and tries the three writes that need privileges.
  // Returns the failures, empty if all succeeded.
  std::vector<std::string> WritesFailingWith(
      const std::vector<std::string>& capabilities) {
    std::string bounding = "-all";
    for (const std::string& c : capabilities) {
      bounding += ",+" + SetprivName(c);
    }
    TestDaemonOptions options;
    options.config =
        "socket { path: \"{base}/durabled.sock\" mode: 0600 }\n"
        "rule { root: \"{base}/data\" allow_uid: {uid}\n"
        "       create_owner: OWNER_FIXED owner_uid: 4242 owner_gid: 4242 }\n";
    options.wrapper = {setpriv_, "--bounding-set=" + bounding,
                       "--inh-caps=-all", "--no-new-privs", "--"};
    auto daemon = TestDaemon::Start(options);
    EXPECT_TRUE(daemon.ok()) << daemon.status();
    if (!daemon.ok()) return {"start"};
    const std::string data = (*daemon)->data();

    // Someone else's private directory.
    const std::string private_dir = data + "/private";
    mkdir(private_dir.c_str(), 0700);
    EXPECT_EQ(chown(private_dir.c_str(), kDirOwner, kDirOwner), 0);
    // A shared sticky directory with someone else's file in it.
    const std::string sticky_dir = data + "/sticky";
    mkdir(sticky_dir.c_str(), 0755);
    EXPECT_EQ(chmod(sticky_dir.c_str(), 01777), 0);
    EXPECT_EQ(chown(sticky_dir.c_str(), kStickyOwner, kStickyOwner), 0);
    const std::string theirs = sticky_dir + "/theirs";
    WriteFileOrDie(theirs, "old\n");
    EXPECT_EQ(chown(theirs.c_str(), kFileOwner, kFileOwner), 0);

    auto client = (*daemon)->NewClient();
    std::vector<std::string> failures;
    auto expect_owner = [&](const std::string& path, uid_t uid) {
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || st.st_uid != uid ||
          st.st_gid != uid) {
        failures.push_back(path + ": wrong owner");
      }
    };
    struct Attempt {
      std::string path;
      uid_t owner;  // expected afterwards
    };
    for (const Attempt& attempt :
         {Attempt{data + "/top", kOwner}, Attempt{private_dir + "/new", kOwner},
          Attempt{theirs, kFileOwner}}) {
      auto result = client->Write(attempt.path, "new\n");
      if (!result.ok()) {
        failures.push_back(result.status().ToString());
      } else {
        expect_owner(attempt.path, attempt.owner);
      }
    }
    return failures;
  }

  std::string setpriv_;
  std::vector<std::string> capabilities_;
};

TEST_F(CapabilitiesTest, TheUnitsCapabilitiesAreEnough) {
  std::vector<std::string> failures = WritesFailingWith(capabilities_);
  EXPECT_TRUE(failures.empty())
      << "with " << absl::StrJoin(capabilities_, " ") << ":\n"
      << absl::StrJoin(failures, "\n");
}

TEST_F(CapabilitiesTest, EachOfTheUnitsCapabilitiesIsNeeded) {
  for (size_t i = 0; i < capabilities_.size(); ++i) {
    std::vector<std::string> fewer = capabilities_;
    fewer.erase(fewer.begin() + i);
    std::vector<std::string> failures = WritesFailingWith(fewer);
    EXPECT_FALSE(failures.empty())
        << capabilities_[i]
        << " is in CapabilityBoundingSet= but no write needed it";
    for (const std::string& failure : failures) {
      EXPECT_TRUE(absl::StrContains(failure, "PERMISSION_DENIED")) << failure;
    }
  }
}

}  // namespace
}  // namespace durable::test
