// The files in deploy/ as systemd and the daemon read them: the units pass
// `systemd-analyze verify`, the service's exposure stays at or below 2.0,
// the sysusers.d and tmpfiles.d entries do what they say in a scratch root,
// the default config parses and allows nothing, and the paths agree with
// each other and with the daemon's compiled-in defaults.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "server/policy/config_loader.h"
#include "tests/lifecycle/lifecycle_util.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_daemon.h"

namespace durable::test {
namespace {

CommandResult RunTool(std::vector<std::string> argv) {
  Command command;
  command.argv = std::move(argv);
  return RunCommand(command);
}

std::string Deploy(const std::string& relative) {
  return SourceDir() + "/deploy/" + relative;
}

std::string ReadDeployFile(const std::string& relative) {
  absl::StatusOr<std::string> content = ReadFile(Deploy(relative));
  EXPECT_TRUE(content.ok())
      << "cannot read " << Deploy(relative) << " (is SourceDir() "
      << SourceDir() << " the checkout?)";
  return content.ok() ? *content : "";
}

// Values of `key=` lines in a unit file, in order.
std::vector<std::string> UnitValues(const std::string& unit,
                                    const std::string& key) {
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(unit, '\n')) {
    if (absl::ConsumePrefix(&line, key + "=")) values.emplace_back(line);
  }
  return values;
}

std::string SystemdAnalyze() {
  return FindExecutable({"/usr/bin/systemd-analyze", "/bin/systemd-analyze"});
}

class ScratchDir {
 public:
  ScratchDir() {
    char dir_template[] = "/tmp/durabled-units.XXXXXX";
    if (mkdtemp(dir_template) == nullptr) std::abort();
    path_ = dir_template;
  }
  ~ScratchDir() {
    std::string command = absl::StrCat("rm -rf '", path_, "'");
    if (std::system(command.c_str()) != 0) {
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(UnitsTest, SystemdAnalyzeVerifyPasses) {
  const std::string analyze = SystemdAnalyze();
  if (analyze.empty()) {
    GTEST_SKIP() << "systemd-analyze not found (Debian package systemd)";
  }
  // verify insists that ExecStart= names an existing executable; the copies
  // name the one this build made. Everything else is verified as shipped.
  ScratchDir scratch;
  std::string service = ReadDeployFile("durabled.service");
  ASSERT_TRUE(absl::StrContains(service, "ExecStart=/usr/sbin/durabled "));
  service = absl::StrReplaceAll(
      service, {{"ExecStart=/usr/sbin/durabled ",
                 absl::StrCat("ExecStart=", DURABLED_BINARY, " ")}});
  WriteFileOrDie(scratch.path() + "/durabled.service", service);
  WriteFileOrDie(scratch.path() + "/durabled.socket",
                 ReadDeployFile("durabled.socket"));

  CommandResult result = RunTool({analyze, "verify", "--man=no",
                                  scratch.path() + "/durabled.service",
                                  scratch.path() + "/durabled.socket"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  // verify exits 0 on unknown keys and other warnings; any line about our
  // units is a failure (lines about the host's other units are not ours).
  for (absl::string_view line :
       absl::StrSplit(result.out + result.err, '\n', absl::SkipEmpty())) {
    EXPECT_FALSE(absl::StrContains(line, "durabled")) << line;
  }
}

TEST(UnitsTest, SecurityExposureIsAtMostTwo) {
  const std::string analyze = SystemdAnalyze();
  if (analyze.empty()) {
    GTEST_SKIP() << "systemd-analyze not found (Debian package systemd)";
  }
  CommandResult result = RunTool({analyze, "security", "--offline=true",
                                  "--no-pager", Deploy("durabled.service")});
  std::smatch match;
  const std::string output = result.out + result.err;
  static const std::regex kOverall(
      R"(Overall exposure level for durabled\.service: ([0-9]+\.[0-9]+))");
  ASSERT_TRUE(std::regex_search(output, match, kOverall))
      << "no \"Overall exposure level\" line (exit " << result.exit_code
      << "):\n"
      << output;
  const double exposure = std::stod(match[1].str());
  RecordProperty("exposure", match[1].str());
  std::cout << "systemd-analyze security: overall exposure " << match[1].str()
            << "\n";
  EXPECT_LE(exposure, 2.0) << output;
}

TEST(UnitsTest, ServiceAndSocketAgreeWithTheDaemonsDefaults) {
  const std::string service = ReadDeployFile("durabled.service");
  const std::string socket = ReadDeployFile("durabled.socket");
  EXPECT_EQ(UnitValues(service, "Type"), std::vector<std::string>{"notify"});
  EXPECT_EQ(UnitValues(service, "ExecStart"),
            std::vector<std::string>{absl::StrCat(
                "/usr/sbin/durabled --config=", kDefaultConfigPath)});
  EXPECT_EQ(UnitValues(service, "ExecReload"),
            std::vector<std::string>{"/bin/kill -HUP $MAINPID"});
  EXPECT_EQ(UnitValues(service, "RuntimeDirectory"),
            std::vector<std::string>{"durabled"});
  EXPECT_EQ(UnitValues(service, "ProtectSystem"),
            std::vector<std::string>{"strict"});
  EXPECT_EQ(UnitValues(service, "RestrictAddressFamilies"),
            std::vector<std::string>{"AF_UNIX"});
  EXPECT_EQ(UnitValues(service, "CapabilityBoundingSet"),
            std::vector<std::string>{"CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE"});
  // No ReadWritePaths= in the unit: the generator derives them from the
  // config (generator_test).
  EXPECT_TRUE(UnitValues(service, "ReadWritePaths").empty());

  EXPECT_EQ(UnitValues(socket, "ListenStream"),
            std::vector<std::string>{kDefaultListenSocketPath});
  EXPECT_EQ(UnitValues(socket, "SocketMode"), std::vector<std::string>{"0660"});
  EXPECT_EQ(UnitValues(socket, "SocketGroup"),
            std::vector<std::string>{"durable"});
  // The socket lives in the service's runtime directory and the tmpfiles.d
  // entry's directory.
  EXPECT_TRUE(absl::StartsWith(kDefaultListenSocketPath, "/run/durabled/"));
  EXPECT_TRUE(absl::StrContains(ReadDeployFile("tmpfiles.d/durabled.conf"),
                                "d /run/durabled 0755 root root"));
  EXPECT_TRUE(absl::StrContains(ReadDeployFile("sysusers.d/durabled.conf"),
                                "g durable -"));
}

TEST(UnitsTest, CrashIsABlipNotAnOutage) {
  // A crash (say a flaw in gRPC's HTTP/2 stack) restarts the daemon at once
  // and never exhausts a start limit; the kernel bounds memory and tasks
  // even if a limit inside the daemon fails; a refused start (exit 1) is not
  // retried in a loop.
  const std::string service = ReadDeployFile("durabled.service");
  EXPECT_EQ(UnitValues(service, "Restart"),
            std::vector<std::string>{"on-failure"});
  EXPECT_EQ(UnitValues(service, "RestartSec"), std::vector<std::string>{"1"});
  EXPECT_EQ(UnitValues(service, "StartLimitIntervalSec"),
            std::vector<std::string>{"0"});
  EXPECT_EQ(UnitValues(service, "RestartPreventExitStatus"),
            std::vector<std::string>{"1"});
  EXPECT_EQ(UnitValues(service, "MemoryMax"), std::vector<std::string>{"1G"});
  EXPECT_EQ(UnitValues(service, "TasksMax"), std::vector<std::string>{"512"});
  // The socket unit keeps the listening socket while the service restarts.
  const std::string socket = ReadDeployFile("durabled.socket");
  EXPECT_EQ(UnitValues(socket, "Accept"), std::vector<std::string>{"no"});
}

TEST(UnitsTest, DefaultConfigParsesAndAllowsNothing) {
  absl::StatusOr<durable::v1::DaemonConfig> config =
      LoadConfigFile(Deploy("durabled.conf"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rule_size(), 0);
  EXPECT_EQ(config->socket().path(), kDefaultListenSocketPath);
  EXPECT_EQ(config->socket().mode(), 0660u);
  EXPECT_EQ(config->socket().group(), "durable");
}

TEST(UnitsTest, ExampleRuleInTheDefaultConfigParsesWhenUncommented) {
  // The commented example is what operators copy: it must stay valid.
  const std::string text = ReadDeployFile("durabled.conf");
  std::vector<std::string> lines;
  bool in_rule = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line == "# rule {") in_rule = true;
    if (in_rule && absl::ConsumePrefix(&line, "# ")) {
      lines.emplace_back(line);
      if (line == "}") in_rule = false;
    } else {
      lines.emplace_back(line);
    }
  }
  absl::StatusOr<durable::v1::DaemonConfig> config =
      ParseConfig(absl::StrJoin(lines, "\n"), "durabled.conf");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->rule_size(), 1) << "no \"# rule {\" example found";
  EXPECT_EQ(config->rule(0).root(), "/var/lib/agents");
}

TEST(UnitsTest, SysusersEntryCreatesTheDurableGroupInAScratchRoot) {
  const std::string sysusers =
      FindExecutable({"/usr/bin/systemd-sysusers", "/bin/systemd-sysusers"});
  if (sysusers.empty()) {
    GTEST_SKIP() << "systemd-sysusers not found (Debian package systemd)";
  }
  ScratchDir root;
  mkdir((root.path() + "/etc").c_str(), 0755);
  CommandResult result = RunTool(
      {sysusers, "--root=" + root.path(), Deploy("sysusers.d/durabled.conf")});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  auto group = ReadFile(root.path() + "/etc/group");
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_TRUE(absl::StrContains(*group, "durable:")) << *group;
}

TEST(UnitsTest, TmpfilesEntryCreatesTheSocketDirectoryInAScratchRoot) {
  const std::string tmpfiles =
      FindExecutable({"/usr/bin/systemd-tmpfiles", "/bin/systemd-tmpfiles"});
  if (tmpfiles.empty()) {
    GTEST_SKIP() << "systemd-tmpfiles not found (Debian package systemd)";
  }
  ScratchDir root;
  CommandResult result = RunTool({tmpfiles, "--create", "--root=" + root.path(),
                                  Deploy("tmpfiles.d/durabled.conf")});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  struct stat st;
  ASSERT_EQ(stat((root.path() + "/run/durabled").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

}  // namespace
}  // namespace durable::test
