// Identity beyond the uid: callers with the same uid in different cgroups,
// allowed differently by unit and cgroup rules, against the real daemon.
// The tests make the cgroups (root) and run the callers as uid 65534.
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_cgroups.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

using testing::HasSubstr;
using testing::Not;

constexpr uid_t kNobody = 65534;

// Runs `argv` (an absolute path) as uid 65534 inside cgroup directory
// `cgroup_dir`: a root shell moves itself there, then drops privileges.
CommandResult RunInCgroup(const std::string& cgroup_dir,
                          const std::vector<std::string>& argv,
                          const std::string& stdin_data = "") {
  std::string line =
      absl::StrCat("echo $$ > ", cgroup_dir,
                   "/cgroup.procs && exec setpriv --reuid=", kNobody,
                   " --regid=", kNobody, " --clear-groups");
  for (const std::string& arg : argv) absl::StrAppend(&line, " '", arg, "'");
  Command command;
  command.argv = {"/bin/sh", "-c", line};
  command.stdin_data = stdin_data;
  return RunCommand(command);
}

class CgroupIdentityTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    cgroups_ = TestCgroupTree::Make(
        {"agent@1.service", "agent@2.service", "box", "other"}, &why);
    if (cgroups_ == nullptr) GTEST_SKIP() << why;
    absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start(
        absl::StrCat(
            "socket { path: \"{base}/durabled.sock\" mode: 0666 }\n",
            "rule { root: \"{base}/data\" allow_uid: {uid} }\n",
            // Somewhere 65534 may always write, so that it is admitted at
            // accept wherever it runs, and the rules below decide.
            "rule { root: \"{base}/open\" allow_uid: ", kNobody, " }\n",
            // Units: any agent, each its own directory by unit name.
            "rule { root: \"{base}/units/${unit}\" name: \"unit\" "
            "allow_unit: \"agent@*.service\" create_root: true }\n",
            // A cgroup prefix together with the uid.
            "rule { root: \"{base}/boxed\" name: \"boxed\" allow_uid: ",
            kNobody, " allow_cgroup: \"", cgroups_->CgroupPath("box"),
            "\" }\n"),
        {"units", "boxed", "open"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    ASSERT_EQ(chmod(daemon_->base().c_str(), 0755), 0);
    ASSERT_EQ(chmod(daemon_->Path("boxed").c_str(), 0755), 0);
  }

  CommandResult Ctl(const std::string& cgroup, std::vector<std::string> args,
                    const std::string& stdin_data = "") {
    std::vector<std::string> argv = {DURABLECTL_BINARY,
                                     "--socket=" + daemon_->socket_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunInCgroup(cgroups_->Directory(cgroup), argv, stdin_data);
  }

  std::unique_ptr<TestCgroupTree> cgroups_;
  std::unique_ptr<TestDaemon> daemon_;
};

TEST_F(CgroupIdentityTest, SameUidDifferentUnitsGetDifferentRoots) {
  CommandResult one = Ctl("agent@1.service", {"write", "unit:state"}, "one");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  CommandResult two = Ctl("agent@2.service", {"write", "unit:state"}, "two");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(ReadFile(daemon_->Path("units/agent@1.service/state")).value_or(""),
            "one");
  EXPECT_EQ(ReadFile(daemon_->Path("units/agent@2.service/state")).value_or(""),
            "two");
  // The same uid outside any agent unit has no such root.
  CommandResult outsider = Ctl("other", {"write", "unit:state"}, "x");
  EXPECT_EQ(outsider.exit_code, 3) << outsider.err;
  // whoami shows the unit, and the audit record names it.
  CommandResult who = Ctl("agent@1.service", {"whoami"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, HasSubstr("unit agent@1.service"));
  EXPECT_TRUE(daemon_->WaitForLog("unit=\"agent@1.service\""));
}

TEST_F(CgroupIdentityTest, CgroupRuleAllowsOnlyInsideThePrefix) {
  CommandResult inside = Ctl("box", {"write", "boxed:f"}, "in");
  ASSERT_EQ(inside.exit_code, 0) << inside.err;
  CommandResult outside = Ctl("other", {"write", "boxed:g"}, "out");
  EXPECT_EQ(outside.exit_code, 3) << outside.err;
  EXPECT_FALSE(PathExists(daemon_->Path("boxed/g")));
  EXPECT_TRUE(daemon_->WaitForLog(
      absl::StrCat("cgroup=\"", cgroups_->CgroupPath("other"), "\"")));
}

TEST_F(CgroupIdentityTest, RightsAreBoundAtAcceptNotAtEachCall) {
  ASSERT_TRUE(cgroups_->Delegate(kNobody));
  // Connected from inside "box", then moved to "other" on its own (a
  // delegated subtree lets it): the connection keeps box's rights ...
  CommandResult hop = RunInCgroup(
      cgroups_->Directory("box"),
      {CGROUP_HOP_CLIENT, daemon_->socket_path(),
       cgroups_->Directory("other") + "/cgroup.procs", "boxed:hopped"});
  ASSERT_EQ(hop.exit_code, 0) << hop.err;
  EXPECT_THAT(hop.out, HasSubstr("before " + cgroups_->CgroupPath("box")));
  EXPECT_THAT(hop.out, HasSubstr("moved"));
  EXPECT_THAT(hop.out, HasSubstr("write OK"));
  EXPECT_THAT(hop.out, HasSubstr("after " + cgroups_->CgroupPath("box")));
  EXPECT_EQ(ReadFile(daemon_->Path("boxed/hopped")).value_or(""), "hop");
  // ... and the other way round, connected from "other" and moved into
  // "box", it gets nothing: it connected without the rights.
  CommandResult in = RunInCgroup(
      cgroups_->Directory("other"),
      {CGROUP_HOP_CLIENT, daemon_->socket_path(),
       cgroups_->Directory("box") + "/cgroup.procs", "boxed:sneaked"});
  EXPECT_THAT(in.out, HasSubstr("moved"));
  EXPECT_THAT(in.out, Not(HasSubstr("write OK")));
  EXPECT_FALSE(PathExists(daemon_->Path("boxed/sneaked")));
}

// Placeholder values that are not one path component ("..", "a/b", NUL,
// control characters) cannot be cgroup names (cgroupfs refuses them), so
// they are covered where the values are checked: caller_roots_policy_test.

}  // namespace
}  // namespace durable::test
