#include "server/policy/policy.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/peer_credentials.h"
#include "server/policy/config_loader.h"
#include "tests/support/status_matchers.h"

namespace durable {

using test::IsOk;
using test::StatusIs;

namespace {

// Authorizes an absolute path, as a request naming one would be.
[[maybe_unused]] absl::StatusOr<durable::Grant> AuthorizePath(
    const durable::Policy& policy, const durable::PeerCredentials& caller,
    absl::string_view path) {
  return policy.Authorize(caller,
                          durable::ClientAddress{"", std::string(path)});
}

using testing::HasSubstr;
using testing::Not;

constexpr char kConfig[] = R"pb(
  rule { root: "/srv" allow_uid: 1000 allow_uid: 1001 }
  rule {
    root: "/srv/a"
    allow_uid: 2000
    allow_gid: 3000
    max_file_size: 4096
    create_mode: 0600
    max_mode: 0640
    directory_mode: 0750
    allow_overwrite: false
  }
  rule { root: "/srv/a/b/c" allow_uid: 1000 }
  rule { root: "/data" allow_gid: 500 allow_overwrite: true }
)pb";

PeerCredentials Caller(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  PeerCredentials caller;
  caller.pid = 42;
  caller.uid = uid;
  caller.gid = gid;
  caller.groups = std::move(groups);
  return caller;
}

class PolicyTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<durable::v1::DaemonConfig> config =
        ParseConfig(kConfig, "policy_test.conf");
    ASSERT_THAT(config, IsOk());
    policy_ = Policy::FromConfig(*config);
    ASSERT_EQ(policy_.rules().size(), 4u);
  }

  const RulePolicy& RuleFor(absl::string_view root) const {
    for (const RulePolicy& rule : policy_.rules()) {
      if (rule.root == root) return rule;
    }
    ADD_FAILURE() << "no rule for " << root;
    return policy_.rules().front();
  }

  Policy policy_;
};

TEST_F(PolicyTest, AllowedByUid) {
  absl::StatusOr<Grant> grant =
      AuthorizePath(policy_, Caller(1000, 1), "/srv/x");
  ASSERT_THAT(grant, IsOk());
  EXPECT_EQ(grant->rule_index, 0u);
  ASSERT_NE(grant->rule, nullptr);
  EXPECT_EQ(grant->rule->root, "/srv");
  EXPECT_EQ(grant->relative_parent, ".");
  EXPECT_EQ(grant->leaf, "x");
}

TEST_F(PolicyTest, AllowedBySecondListedUid) {
  EXPECT_THAT(AuthorizePath(policy_, Caller(1001, 1), "/srv/x"), IsOk());
}

TEST_F(PolicyTest, AllowedByPrimaryGid) {
  absl::StatusOr<Grant> grant =
      AuthorizePath(policy_, Caller(7, 3000), "/srv/a/file");
  ASSERT_THAT(grant, IsOk());
  EXPECT_EQ(grant->rule->root, "/srv/a");
}

TEST_F(PolicyTest, AllowedBySupplementaryGroup) {
  absl::StatusOr<Grant> grant =
      AuthorizePath(policy_, Caller(7, 8, {9, 3000, 11}), "/srv/a/file");
  ASSERT_THAT(grant, IsOk());
  EXPECT_EQ(grant->rule->root, "/srv/a");
}

TEST_F(PolicyTest, DeniedOtherwise) {
  absl::StatusOr<Grant> grant =
      AuthorizePath(policy_, Caller(7, 8, {9, 10}), "/srv/a/file");
  EXPECT_THAT(grant, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(std::string(grant.status().message()), HasSubstr("uid 7"));
  // The denying rule's root is none of this caller's business.
  EXPECT_THAT(std::string(grant.status().message()), Not(HasSubstr("/srv")));
}

TEST_F(PolicyTest, GidIsNotMistakenForUid) {
  // uid 3000 is not listed; gid 3000 is. A caller with uid 3000 and another
  // gid gets nothing.
  EXPECT_THAT(AuthorizePath(policy_, Caller(3000, 8), "/srv/a/file"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // And a gid equal to a listed uid does not count.
  EXPECT_THAT(AuthorizePath(policy_, Caller(7, 2000), "/srv/a/file"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(PolicyTest, LongestRootWinsEvenToDeny) {
  // uid 1000 may write under /srv, but /srv/a has its own rule without it.
  EXPECT_THAT(AuthorizePath(policy_, Caller(1000, 1), "/srv/other"), IsOk());
  absl::StatusOr<Grant> grant =
      AuthorizePath(policy_, Caller(1000, 1), "/srv/a/file");
  EXPECT_THAT(grant, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(std::string(grant.status().message()),
              HasSubstr("not allowed to write this path"));
  EXPECT_THAT(std::string(grant.status().message()), Not(HasSubstr("/srv/a")));

  // uid 2000 may write under /srv/a but not elsewhere under /srv.
  EXPECT_THAT(AuthorizePath(policy_, Caller(2000, 1), "/srv/a/file"), IsOk());
  EXPECT_THAT(AuthorizePath(policy_, Caller(2000, 1), "/srv/file"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(PolicyTest, LongestRootWinsAtDeeperLevel) {
  // /srv/a/b/c is nested in /srv/a: uid 1000 is allowed there again, uid
  // 2000 is not.
  absl::StatusOr<Grant> grant =
      AuthorizePath(policy_, Caller(1000, 1), "/srv/a/b/c/d/file");
  ASSERT_THAT(grant, IsOk());
  EXPECT_EQ(grant->rule_index, 2u);
  EXPECT_EQ(grant->rule->root, "/srv/a/b/c");
  EXPECT_EQ(grant->relative_parent, "d");
  EXPECT_THAT(AuthorizePath(policy_, Caller(2000, 1), "/srv/a/b/c/file"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Just above the nested root, /srv/a governs.
  EXPECT_THAT(AuthorizePath(policy_, Caller(2000, 1), "/srv/a/b/file"), IsOk());
}

TEST_F(PolicyTest, RootsMatchAtComponentBoundary) {
  // /srv/ab is governed by /srv, not /srv/a.
  absl::StatusOr<Grant> grant =
      AuthorizePath(policy_, Caller(1000, 1), "/srv/ab/file");
  ASSERT_THAT(grant, IsOk());
  EXPECT_EQ(grant->rule->root, "/srv");
  EXPECT_EQ(grant->relative_parent, "ab");
  EXPECT_THAT(AuthorizePath(policy_, Caller(2000, 1), "/srv/ab/file"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // /srvx is under no root at all.
  EXPECT_THAT(AuthorizePath(policy_, Caller(1000, 1), "/srvx/file"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(PolicyTest, OutsideEveryRootIsDenied) {
  for (const char* path : {"/etc/passwd", "/sr", "/datafile", "/x"}) {
    absl::StatusOr<Grant> grant =
        AuthorizePath(policy_, Caller(1000, 500), path);
    EXPECT_THAT(grant, StatusIs(absl::StatusCode::kPermissionDenied)) << path;
    EXPECT_THAT(std::string(grant.status().message()),
                HasSubstr("outside every root"))
        << path;
  }
}

TEST_F(PolicyTest, RootItselfIsDenied) {
  for (const char* path : {"/srv", "/srv/a", "/data"}) {
    absl::StatusOr<Grant> grant =
        AuthorizePath(policy_, Caller(1000, 500, {3000}), path);
    EXPECT_THAT(grant, StatusIs(absl::StatusCode::kPermissionDenied)) << path;
    EXPECT_THAT(std::string(grant.status().message()), HasSubstr("itself"))
        << path;
  }
}

TEST_F(PolicyTest, RelativeParent) {
  absl::StatusOr<Grant> direct =
      AuthorizePath(policy_, Caller(7, 500), "/data/file");
  ASSERT_THAT(direct, IsOk());
  EXPECT_EQ(direct->relative_parent, ".");
  EXPECT_EQ(direct->leaf, "file");

  absl::StatusOr<Grant> deeper =
      AuthorizePath(policy_, Caller(7, 500), "/data/a/b/file");
  ASSERT_THAT(deeper, IsOk());
  EXPECT_EQ(deeper->relative_parent, "a/b");
  EXPECT_EQ(deeper->leaf, "file");

  absl::StatusOr<Grant> one =
      AuthorizePath(policy_, Caller(7, 500), "/data/a/file");
  ASSERT_THAT(one, IsOk());
  EXPECT_EQ(one->relative_parent, "a");
}

TEST_F(PolicyTest, DefaultsApplied) {
  const RulePolicy& srv = RuleFor("/srv");
  EXPECT_EQ(srv.max_file_size, 64ull * 1024 * 1024);
  EXPECT_EQ(srv.create_mode, static_cast<mode_t>(0644));
  EXPECT_EQ(srv.max_mode, static_cast<mode_t>(0666));
  // Directories get their own default, not one derived from create_mode.
  EXPECT_EQ(srv.directory_mode, static_cast<mode_t>(0755));
  EXPECT_TRUE(srv.allow_overwrite);

  const RulePolicy& data = RuleFor("/data");
  EXPECT_TRUE(data.allow_overwrite);  // explicitly true
}

TEST_F(PolicyTest, ExplicitValuesKept) {
  const RulePolicy& a = RuleFor("/srv/a");
  EXPECT_EQ(a.max_file_size, 4096u);
  EXPECT_EQ(a.create_mode, static_cast<mode_t>(0600));
  EXPECT_EQ(a.max_mode, static_cast<mode_t>(0640));
  EXPECT_EQ(a.directory_mode, static_cast<mode_t>(0750));
  EXPECT_FALSE(a.allow_overwrite);

  absl::StatusOr<Grant> grant =
      AuthorizePath(policy_, Caller(2000, 1), "/srv/a/file");
  ASSERT_THAT(grant, IsOk());
  EXPECT_FALSE(grant->rule->allow_overwrite);
  EXPECT_EQ(grant->rule->max_file_size, 4096u);
}

TEST_F(PolicyTest, CouldEverAllow) {
  EXPECT_TRUE(policy_.CouldEverAllow(Caller(1000, 1)));
  EXPECT_TRUE(policy_.CouldEverAllow(Caller(2000, 1)));
  EXPECT_TRUE(policy_.CouldEverAllow(Caller(7, 3000)));
  EXPECT_TRUE(policy_.CouldEverAllow(Caller(7, 8, {500})));
  EXPECT_FALSE(policy_.CouldEverAllow(Caller(7, 8)));
  EXPECT_FALSE(policy_.CouldEverAllow(Caller(7, 8, {9, 10, 11})));
  EXPECT_FALSE(policy_.CouldEverAllow(Caller(0, 0)));
}

TEST(PolicyEmptyTest, NoRulesDeniesEverything) {
  Policy policy = Policy::FromConfig(durable::v1::DaemonConfig());
  EXPECT_FALSE(policy.CouldEverAllow(Caller(0, 0)));
  EXPECT_THAT(AuthorizePath(policy, Caller(0, 0), "/x"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(PolicyRootSlashTest, RootDirectoryRule) {
  absl::StatusOr<durable::v1::DaemonConfig> config = ParseConfig(
      "rule { root: \"/\" allow_uid: 5 }\n"
      "rule { root: \"/secret\" allow_uid: 6 }\n",
      "slash.conf");
  ASSERT_THAT(config, IsOk());
  Policy policy = Policy::FromConfig(*config);

  absl::StatusOr<Grant> top = AuthorizePath(policy, Caller(5, 5), "/file");
  ASSERT_THAT(top, IsOk());
  EXPECT_EQ(top->relative_parent, ".");
  EXPECT_EQ(top->leaf, "file");

  absl::StatusOr<Grant> deep = AuthorizePath(policy, Caller(5, 5), "/a/b/file");
  ASSERT_THAT(deep, IsOk());
  EXPECT_EQ(deep->relative_parent, "a/b");

  // The nested root overrides "/".
  EXPECT_THAT(AuthorizePath(policy, Caller(5, 5), "/secret/file"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(AuthorizePath(policy, Caller(6, 6), "/secret/file"), IsOk());
  // "/secretx" is governed by "/".
  EXPECT_THAT(AuthorizePath(policy, Caller(5, 5), "/secretx"), IsOk());
}

TEST_F(PolicyTest, GrantsForListAllowedRulesAndTheHolesInThem) {
  // uid 1000 may write under /srv and /srv/a/b/c; /srv/a (another uid's)
  // is a hole in its /srv grant; /data is none of its business.
  CallerGrants grants = policy_.GrantsFor(Caller(1000, 1));
  std::vector<std::string> allowed;
  for (const CallerGrants::Allowed& entry : grants.allowed)
    allowed.push_back(entry.root);
  EXPECT_EQ(allowed, (std::vector<std::string>{"/srv", "/srv/a/b/c"}));
  EXPECT_EQ(grants.denied_roots, std::vector<std::string>{"/srv/a"});

  // gid 500 only: /data, with no holes.
  grants = policy_.GrantsFor(Caller(7, 8, {500}));
  ASSERT_EQ(grants.allowed.size(), 1u);
  EXPECT_EQ(grants.allowed[0].root, "/data");
  EXPECT_TRUE(grants.denied_roots.empty());

  // Nobody listed: nothing at all.
  grants = policy_.GrantsFor(Caller(9, 9));
  EXPECT_TRUE(grants.allowed.empty());
  EXPECT_TRUE(grants.denied_roots.empty());
}

}  // namespace
}  // namespace durable
