// A config that would let the daemon (running as root) hand out setuid,
// setgid or sticky files or directories is refused at start, naming the
// file, line and field, and a SIGHUP reload to such a config is refused
// while the old policy stays in force. What a caller can do with a mode is
// in policy_attack_test.cc; this is the operator's side of the same door.
#include <signal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::HasSubstr;

struct SpecialModeCase {
  const char* field;
  const char* mode;
};

class ConfigModeAttack : public testing::TestWithParam<SpecialModeCase> {
 protected:
  std::string Config() const {
    return absl::StrCat(
        "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n"
        "rule {\n"
        "  root: \"{base}/data\"\n"
        "  allow_uid: {uid}\n"
        "  ",
        GetParam().field, ": ", GetParam().mode, "\n}\n");
  }
};

TEST_P(ConfigModeAttack, SpecialBitsRefuseTheStartWithTheirLocation) {
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon =
      TestDaemon::Start(Config());
  ASSERT_FALSE(daemon.ok()) << "durabled started with " << GetParam().field
                            << ": " << GetParam().mode;
  const std::string message(daemon.status().message());
  EXPECT_THAT(message, HasSubstr("durabled.conf:5:"));
  EXPECT_THAT(message, HasSubstr(GetParam().field));
  EXPECT_THAT(message, HasSubstr("setuid, setgid or sticky"));
}

TEST_P(ConfigModeAttack, ReloadToSpecialBitsIsRefusedAndTheOldPolicyStays) {
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  TestDaemon& d = **daemon;
  WriteFileOrDie(
      d.base() + "/durabled.conf",
      absl::StrReplaceAll(Config(), {{"{base}", d.base()},
                                     {"{uid}", std::to_string(getuid())}}));
  kill(d.pid(), SIGHUP);
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    refused = d.Log().find("reload refused") != std::string::npos;
    if (!refused) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(refused) << d.Log();
  EXPECT_THAT(d.Log(), HasSubstr("setuid, setgid or sticky"));
  // The old rule (create_mode 0644) still governs new files.
  auto client = d.NewClient();
  auto written = client->Write(d.data() + "/after-reload", "x");
  ASSERT_TRUE(written.ok()) << written.status();
  auto status = client->Stat(d.data() + "/after-reload");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->mode & 07777, 0644u);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, ConfigModeAttack,
    testing::Values(SpecialModeCase{"create_mode", "04755"},
                    SpecialModeCase{"create_mode", "02644"},
                    SpecialModeCase{"max_mode", "06777"},
                    SpecialModeCase{"directory_mode", "01777"},
                    SpecialModeCase{"directory_mode", "02775"}),
    [](const testing::TestParamInfo<SpecialModeCase>& info) {
      return absl::StrCat(info.param.field, "_", info.param.mode);
    });

}  // namespace
}  // namespace durable::test
