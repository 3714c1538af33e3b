// Named roots, per-caller roots and identity beyond the uid, as the policy
// decides them (no I/O): root templates, "name:relative" addresses, unit
// and cgroup rules, and what a caller is told.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/peer_credentials.h"
#include "server/policy/client_address.h"
#include "server/policy/config_loader.h"
#include "server/policy/policy.h"
#include "server/policy/root_template.h"
#include "tests/support/status_matchers.h"

namespace durable {
namespace {

using test::IsOk;
using test::StatusIs;
using testing::HasSubstr;
using testing::Not;

PeerCredentials Caller(uid_t uid, std::string cgroup = "",
                       std::string unit = "", bool cgroup_known = true) {
  PeerCredentials caller;
  caller.pid = 42;
  caller.uid = uid;
  caller.gid = uid;
  caller.cgroup_known = cgroup_known;
  caller.cgroup = std::move(cgroup);
  caller.unit = std::move(unit);
  return caller;
}

// --- RootTemplate ---------------------------------------------------------

TEST(RootTemplateTest, FixedRootIsItsOwnBase) {
  absl::StatusOr<RootTemplate> root = RootTemplate::Parse("/srv/state");
  ASSERT_THAT(root, IsOk());
  EXPECT_FALSE(root->per_caller());
  EXPECT_EQ(root->base(), "/srv/state");
  EXPECT_EQ(root->ExpandFor(Caller(7)), "/srv/state");
  EXPECT_EQ(root->RelativeFor(Caller(7)), "");
}

TEST(RootTemplateTest, UidExpandsToOneComponent) {
  absl::StatusOr<RootTemplate> root =
      RootTemplate::Parse("/var/lib/agents/${uid}/state");
  ASSERT_THAT(root, IsOk());
  EXPECT_TRUE(root->per_caller());
  EXPECT_EQ(root->base(), "/var/lib/agents");
  EXPECT_EQ(root->ExpandFor(Caller(1000)), "/var/lib/agents/1000/state");
  EXPECT_EQ(root->RelativeFor(Caller(1000)), "1000/state");
  EXPECT_EQ(root->ExpandFor(Caller(1001)), "/var/lib/agents/1001/state");
}

TEST(RootTemplateTest, UnitAndCgroupNeedAKnownCgroup) {
  absl::StatusOr<RootTemplate> unit = RootTemplate::Parse("/a/${unit}");
  absl::StatusOr<RootTemplate> cgroup = RootTemplate::Parse("/a/cg-${cgroup}");
  ASSERT_THAT(unit, IsOk());
  ASSERT_THAT(cgroup, IsOk());
  const PeerCredentials known =
      Caller(5, "/system.slice/agent@3.service", "agent@3.service");
  EXPECT_EQ(unit->ExpandFor(known), "/a/agent@3.service");
  EXPECT_EQ(cgroup->ExpandFor(known), "/a/cg-agent@3.service");
  // Unknown cgroup, no unit, the hierarchy's root: the rule has no root for
  // the caller.
  EXPECT_EQ(unit->ExpandFor(Caller(5, "/x/agent@3.service", "agent@3.service",
                                   /*cgroup_known=*/false)),
            std::nullopt);
  EXPECT_EQ(unit->ExpandFor(Caller(5, "/user.slice", "")), std::nullopt);
  EXPECT_EQ(cgroup->ExpandFor(Caller(5, "/", "")), std::nullopt);
}

TEST(RootTemplateTest, ValuesThatAreNotOneComponentExpandToNothing) {
  absl::StatusOr<RootTemplate> unit = RootTemplate::Parse("/a/${unit}");
  ASSERT_THAT(unit, IsOk());
  for (const std::string& evil :
       {std::string(".."), std::string("."), std::string("a/b"),
        std::string("../../etc"), std::string("x\0y", 3), std::string("x\ny"),
        std::string(300, 'u')}) {
    EXPECT_EQ(unit->ExpandFor(Caller(5, "/s/" + evil, evil)), std::nullopt)
        << evil;
  }
  absl::StatusOr<RootTemplate> dotted = RootTemplate::Parse("/a/.${unit}");
  ASSERT_THAT(dotted, IsOk());
  // "." + "." is "..": the expanded component is checked as a whole.
  EXPECT_EQ(dotted->ExpandFor(Caller(5, "/s/.", ".")), std::nullopt);
}

TEST(RootTemplateTest, RefusesBadTemplates) {
  for (const char* bad :
       {"/${uid}", "/a/${user}", "/a/${uid", "relative/${uid}", "/a/../${uid}",
        "/a//${uid}", "/a/${uid}/"}) {
    EXPECT_THAT(RootTemplate::Parse(bad),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

// --- ClientAddress --------------------------------------------------------

TEST(ClientAddressTest, AbsoluteAndNamedForms) {
  absl::StatusOr<ClientAddress> absolute = ParseClientAddress("/srv/x");
  ASSERT_THAT(absolute, IsOk());
  EXPECT_FALSE(absolute->by_name());
  EXPECT_EQ(absolute->path, "/srv/x");
  absl::StatusOr<ClientAddress> named =
      ParseClientAddress("state:agent/x.json");
  ASSERT_THAT(named, IsOk());
  EXPECT_EQ(named->root_name, "state");
  EXPECT_EQ(named->path, "agent/x.json");
}

TEST(ClientAddressTest, RelativePartGetsTheSameLexicalChecks) {
  for (const std::string& bad :
       {std::string("state:"), std::string("state:/x"),
        std::string("state:../x"), std::string("state:a/../x"),
        std::string("state:a//x"), std::string("state:a/"),
        std::string("state:./x"), std::string("state:a\0b", 9),
        std::string("state:.durabled-tmp.x"), std::string("relative/x"),
        std::string("x"), std::string(""), std::string("State:x"),
        std::string("st/ate:x"), std::string(":x"), std::string("..:x"),
        std::string("a\0b:x", 5)}) {
    EXPECT_THAT(ParseClientAddress(bad),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(ClientAddressTest, RootNames) {
  EXPECT_TRUE(IsValidRootName("state"));
  EXPECT_TRUE(IsValidRootName("agent-7_b"));
  EXPECT_TRUE(IsValidRootName("7"));
  EXPECT_FALSE(IsValidRootName(""));
  EXPECT_FALSE(IsValidRootName("-x"));
  EXPECT_FALSE(IsValidRootName("a.b"));
  EXPECT_FALSE(IsValidRootName("a:b"));
  EXPECT_FALSE(IsValidRootName(std::string(65, 'a')));
}

// --- Policy ---------------------------------------------------------------

constexpr char kConfig[] = R"pb(
  rule { root: "/var/lib/agents" allow_uid: 0 }
  rule {
    root: "/var/lib/agents/${uid}"
    name: "state"
    allow_uid: 1000
    allow_uid: 1001
    create_root: true
    max_bytes: 1000
  }
  rule {
    root: "/srv/units/${unit}"
    name: "unit"
    hide_root: true
    allow_unit: "agent@*.service"
  }
  rule { root: "/srv/cg" allow_uid: 1000 allow_cgroup: "/machine.slice/box" }
  rule { root: "/srv/shared" name: "shared" allow_uid: 1000 allow_uid: 1001 }
  rule { root: "/srv/shared/locked" allow_uid: 1001 }
)pb";

class CallerRootsPolicyTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<durable::v1::DaemonConfig> config =
        ParseConfig(kConfig, "caller_roots.conf");
    ASSERT_THAT(config, IsOk());
    policy_ = Policy::FromConfig(*config);
  }

  absl::StatusOr<Grant> Authorize(const PeerCredentials& caller,
                                  absl::string_view text) {
    absl::StatusOr<ClientAddress> address = ParseClientAddress(text);
    if (!address.ok()) return address.status();
    return policy_.Authorize(caller, *address);
  }

  Policy policy_;
};

TEST_F(CallerRootsPolicyTest, NamedAddressResolvesUnderTheCallersRoot) {
  absl::StatusOr<Grant> grant = Authorize(Caller(1000), "state:agent/x.json");
  ASSERT_THAT(grant, IsOk());
  EXPECT_EQ(grant->root, "/var/lib/agents/1000");
  EXPECT_EQ(grant->root_below_base, "1000");
  EXPECT_EQ(grant->relative_parent, "agent");
  EXPECT_EQ(grant->leaf, "x.json");
  EXPECT_EQ(grant->root_label, "state:");
}

TEST_F(CallerRootsPolicyTest, TwoUidsNeverReachEachOthersRoot) {
  // By absolute path: 1001's expansion does not contain 1000's directory;
  // the path falls to the /var/lib/agents rule, which allows only root.
  EXPECT_THAT(Authorize(Caller(1001), "/var/lib/agents/1000/x"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Authorize(Caller(1000), "/var/lib/agents/1000/x"), IsOk());
  // By name, each lands in its own.
  absl::StatusOr<Grant> other = Authorize(Caller(1001), "state:x");
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(other->root, "/var/lib/agents/1001");
}

TEST_F(CallerRootsPolicyTest, UnknownAndForeignNamesGetTheSameAnswer) {
  absl::StatusOr<Grant> unknown = Authorize(Caller(1000), "nosuch:x");
  absl::StatusOr<Grant> foreign = Authorize(Caller(1000), "unit:x");
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(foreign, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(std::string(foreign.status().message()),
              HasSubstr("no root named \"unit\" is open to uid 1000"));
  EXPECT_THAT(std::string(foreign.status().message()), Not(HasSubstr("/srv")));
}

TEST_F(CallerRootsPolicyTest, UnitRuleMatchesOnlyAKnownMatchingUnit) {
  const PeerCredentials agent =
      Caller(5, "/system.slice/agent@3.service", "agent@3.service");
  absl::StatusOr<Grant> grant = Authorize(agent, "unit:f");
  ASSERT_THAT(grant, IsOk());
  EXPECT_EQ(grant->root, "/srv/units/agent@3.service");
  // Same uid, other unit; same unit but the cgroup was not read race-free.
  EXPECT_THAT(Authorize(Caller(5, "/system.slice/web.service", "web.service"),
                        "unit:f"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Authorize(Caller(5, "/system.slice/agent@3.service",
                               "agent@3.service", /*cgroup_known=*/false),
                        "unit:f"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CallerRootsPolicyTest, CgroupRuleNeedsUidAndCgroupTogether) {
  EXPECT_THAT(Authorize(Caller(1000, "/machine.slice/box/inner"), "/srv/cg/f"),
              IsOk());
  EXPECT_THAT(Authorize(Caller(1000, "/machine.slice/box"), "/srv/cg/f"),
              IsOk());
  // Prefix at a component boundary only; the uid must match too; an unread
  // cgroup never matches.
  EXPECT_THAT(Authorize(Caller(1000, "/machine.slice/boxer"), "/srv/cg/f"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Authorize(Caller(1001, "/machine.slice/box"), "/srv/cg/f"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(
      Authorize(Caller(1000, "/machine.slice/box", "", false), "/srv/cg/f"),
      StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CallerRootsPolicyTest, NestedHolesHoldForNamedAddressesToo) {
  EXPECT_THAT(Authorize(Caller(1000), "shared:locked/f"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  absl::StatusOr<Grant> allowed = Authorize(Caller(1001), "shared:locked/f");
  ASSERT_THAT(allowed, IsOk());
  // Governed by the nested rule, which has no name: its root is named.
  EXPECT_EQ(allowed->root_label, "/srv/shared/locked");
}

TEST_F(CallerRootsPolicyTest, WhoAmIShowsExpandedRootsAndHidesHiddenOnes) {
  CallerGrants mine = policy_.GrantsFor(Caller(1000));
  std::vector<std::string> roots;
  for (const CallerGrants::Allowed& allowed : mine.allowed) {
    roots.push_back(allowed.root);
  }
  EXPECT_EQ(roots,
            (std::vector<std::string>{"/var/lib/agents/1000", "/srv/shared"}));
  EXPECT_EQ(mine.denied_roots, std::vector<std::string>{"/srv/shared/locked"});
  CallerGrants agent = policy_.GrantsFor(
      Caller(5, "/system.slice/agent@3.service", "agent@3.service"));
  ASSERT_EQ(agent.allowed.size(), 1u);
  EXPECT_EQ(agent.allowed[0].root, "");
  EXPECT_EQ(agent.allowed[0].rule->name, "unit");
}

TEST_F(CallerRootsPolicyTest, CouldEverAllowNeedsARootForTheCaller) {
  EXPECT_TRUE(policy_.CouldEverAllow(
      Caller(5, "/system.slice/agent@3.service", "agent@3.service")));
  EXPECT_FALSE(policy_.CouldEverAllow(
      Caller(5, "/system.slice/web.service", "web.service")));
}

// --- Config validation ----------------------------------------------------

TEST(CallerRootsConfigTest, RefusesBadRules) {
  const char* bad[] = {
      R"pb(rule { root: "/a/${nope}" allow_uid: 1 })pb",
      R"pb(rule { root: "/${uid}" allow_uid: 1 })pb",
      R"pb(rule { root: "/a" name: "Bad" allow_uid: 1 })pb",
      R"pb(rule { root: "/a" name: "x:y" allow_uid: 1 })pb",
      R"pb(rule { root: "/a" name: "s" allow_uid: 1 }
           rule { root: "/b" name: "s" allow_uid: 1 })pb",
      R"pb(rule { root: "/a" hide_root: true allow_uid: 1 })pb",
      R"pb(rule { root: "/a" create_root: true allow_uid: 1 })pb",
      R"pb(rule { root: "/a" allow_unit: "a/b.service" })pb",
      R"pb(rule { root: "/a" allow_unit: ".." })pb",
      R"pb(rule { root: "/a" allow_cgroup: "machine.slice" })pb",
      R"pb(rule { root: "/a" allow_cgroup: "/a/../b" })pb",
      R"pb(rule { root: "/a" })pb",
  };
  for (const char* text : bad) {
    EXPECT_THAT(ParseConfig(text, "bad.conf"),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << text;
  }
  EXPECT_THAT(
      ParseConfig(R"pb(rule { root: "/a" allow_unit: "x@*.service" })pb",
                  "unit-only.conf"),
      IsOk());
}

}  // namespace
}  // namespace durable
