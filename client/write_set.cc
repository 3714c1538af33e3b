// Client::WriteSet and its builder.
#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client_internal.h"
#include "durable/client.h"
#include "durable/v1/durable.pb.h"

namespace durable {

WriteSetBuilder& WriteSetBuilder::Write(std::string path, std::string data,
                                        WriteOptions options) {
  Member& member = members_.emplace_back();
  member.path = std::move(path);
  member.size = data.size();
  member.data = std::move(data);
  member.options = std::move(options);
  return *this;
}

WriteSetBuilder& WriteSetBuilder::WriteFrom(std::string path,
                                            ChunkSource source, uint64_t size,
                                            WriteOptions options) {
  Member& member = members_.emplace_back();
  member.path = std::move(path);
  member.source = std::move(source);
  member.size = size;
  member.options = std::move(options);
  return *this;
}

WriteSetBuilder& WriteSetBuilder::Remove(std::string path,
                                         std::string if_match) {
  Member& member = members_.emplace_back();
  member.path = std::move(path);
  member.remove = true;
  member.if_match = std::move(if_match);
  return *this;
}

uint64_t WriteSetBuilder::content_bytes() const {
  uint64_t total = 0;
  for (const Member& member : members_) {
    if (!member.remove) total += member.size;
  }
  return total;
}

namespace {

// Sends the members' content in chunks of up to `chunk_size`, packing
// small members together.
class ContentSender {
 public:
  ContentSender(grpc::ClientWriter<durable::v1::WriteSetChunk>* writer,
                size_t chunk_size, uint64_t total,
                const ProgressCallback& on_progress)
      : writer_(writer),
        chunk_size_(std::max<size_t>(chunk_size, 1)),
        total_(total),
        on_progress_(on_progress) {}

  // False once the daemon has ended the call (Finish says why).
  bool Add(const char* data, size_t n) {
    while (n > 0) {
      const size_t take = std::min(n, chunk_size_ - pending_.size());
      pending_.append(data, take);
      data += take;
      n -= take;
      if (pending_.size() == chunk_size_ && !Flush(false)) return false;
    }
    return true;
  }

  bool Flush(bool finish) {
    chunk_.set_data(pending_);
    chunk_.set_finish(finish);
    if (!writer_->Write(chunk_)) return false;
    chunk_.clear_header();
    sent_ += pending_.size();
    pending_.clear();
    if (on_progress_) on_progress_(sent_, total_);
    return true;
  }

  durable::v1::WriteSetChunk& chunk() { return chunk_; }

 private:
  grpc::ClientWriter<durable::v1::WriteSetChunk>* const writer_;
  const size_t chunk_size_;
  const uint64_t total_;
  const ProgressCallback& on_progress_;
  durable::v1::WriteSetChunk chunk_;
  std::string pending_;
  uint64_t sent_ = 0;
};

// Feeds one member's source to `sender`; an error if it yields another
// size than announced or fails.
absl::Status SendSource(const std::string& path, const ChunkSource& source,
                        uint64_t size, ContentSender& sender, size_t chunk_size,
                        bool* stream_broken) {
  std::string buffer(std::max<size_t>(chunk_size, 1), '\0');
  uint64_t yielded = 0;
  while (true) {
    absl::StatusOr<size_t> n = source(buffer.data(), buffer.size());
    if (!n.ok()) {
      return absl::Status(n.status().code(),
                          absl::StrCat("reading the content of member ", path,
                                       " failed: ", n.status().message()));
    }
    if (*n == 0) break;
    yielded += *n;
    if (yielded > size) break;
    if (!sender.Add(buffer.data(), *n)) {
      *stream_broken = true;
      return absl::OkStatus();
    }
  }
  if (yielded != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("member ", path, ": the content source yielded ",
                     yielded > size ? "more than " : "", yielded,
                     " bytes, not the ", size, " announced"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<SetMemberResult>> Client::WriteSet(
    const WriteSetBuilder& set, const ProgressCallback& on_progress) {
  if (stub_ == nullptr) return internal::MovedFromError();
  durable::v1::WriteSetHeader header;
  for (const WriteSetBuilder::Member& member : set.members_) {
    const std::string& if_match =
        member.remove ? member.if_match : member.options.if_match;
    if (absl::Status bad = internal::CheckStrings(member.path, if_match);
        !bad.ok()) {
      return bad;
    }
    durable::v1::SetMember* proto = header.add_members();
    proto->set_path(member.path);
    if (member.remove) {
      proto->mutable_remove()->set_if_match(member.if_match);
    } else {
      internal::ToProto(member.options,
                        proto->mutable_write()->mutable_options());
      proto->mutable_write()->set_size(member.size);
    }
  }
  grpc::ClientContext context;
  stub_->SetDeadline(context, options_);
  durable::v1::WriteSetResponse response;
  std::unique_ptr<grpc::ClientWriter<durable::v1::WriteSetChunk>> writer =
      stub_->writer->WriteSet(&context, &response);
  ContentSender sender(writer.get(), options_.chunk_size, set.content_bytes(),
                       on_progress);
  *sender.chunk().mutable_header() = std::move(header);
  bool stream_broken = false;
  absl::Status source_error;
  for (const WriteSetBuilder::Member& member : set.members_) {
    if (member.remove) continue;
    if (member.source) {
      source_error = SendSource(member.path, member.source, member.size, sender,
                                options_.chunk_size, &stream_broken);
    } else if (!sender.Add(member.data.data(), member.data.size())) {
      stream_broken = true;
    }
    if (stream_broken || !source_error.ok()) break;
  }
  if (!source_error.ok()) {
    // Ending without `finish` publishes nothing.
    context.TryCancel();
    writer->Finish();
    return absl::Status(
        source_error.code(),
        absl::StrCat(source_error.message(), "; nothing was written"));
  }
  if (!stream_broken && sender.Flush(true)) writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return internal::FromGrpc(status, options_.socket_path);
  std::vector<SetMemberResult> results;
  for (const durable::v1::SetMemberResult& proto : response.members()) {
    SetMemberResult& result = results.emplace_back();
    result.path = proto.path();
    result.etag = proto.etag();
    result.size = proto.size();
    result.sha256 = proto.sha256();
    result.created = proto.created();
    result.removed = proto.removed();
  }
  return results;
}

}  // namespace durable
