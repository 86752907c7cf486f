// What the parts of one generated codec file share: which types get
// functions and in what order, the names of the generated functions, the C++
// types Cap'n Proto generates for the schema, where each field lies, and how
// the code reaches a non-public member.
//
// The encoder, the decoder and the migration emitter each read one
// codec_context; it is filled once, when the codec of a source is planned,
// and never changes afterwards.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "emit/layout.h"
#include "emit/schema_emitter.h"
#include "migrate/history.h"
#include "model/model.h"
#include "model/nesting.h"

namespace instadump_codegen {

class codec_context {
 public:
  // Plans the codec of `states` (states of `m`, the model this build emits,
  // with its names and ordinals final): every type their values hold in any
  // layout the decoders read, including the types of older fields that
  // widened members are read from and the older layouts of records changed
  // by user migrations. `history` and `schema` must outlive the context.
  codec_context(const model& m, const schema_history& history, const schema_output& schema,
                const std::vector<const state*>& states);

  const type_node& type(const std::string& key) const { return m_.types.at(key); }
  const model& model_of() const { return m_; }
  // How deeply values of each type nest on the wire.
  const nesting& depth() const { return depth_; }
  const schema_history& history() const { return h_; }
  const schema_output& schema() const { return schema_; }

  // The types that get functions (enums, struct- and list-backed kinds), in
  // the order their code is emitted: each after the types it holds.
  const std::vector<std::string>& ordered_types() const { return order_; }
  // (record, history version e): records read into their value type of
  // version e by a decoder of the migration emitter, in emission order.
  const std::set<std::pair<std::string, unsigned>>& older_layouts() const { return older_layouts_; }

  // The generated function `prefix` of type `key`: "encode_ShopItem_3"
  // (schema name, or "list", and the type's index in ordered_types()).
  std::string fn(const std::string& prefix, const std::string& key) const;
  // The decoder of record `key` into its value type of history version `e`.
  std::string older_decoder(const std::string& key, unsigned e) const;
  // The decoder of state `id`'s value in its layout of history version `e`.
  static std::string older_state_decoder(const std::string& id, unsigned e);
  // The identifier of state `s` in generated names ("shop::items" -> "shop__items").
  static std::string state_id(const state& s);

  // The C++ type capnp generates for a schema type ("::std::int32_t",
  // "::capnp::List<::capnp::Text>", "::instadump_schema::shop::ShopItem").
  std::string capnp_cpp(const std::string& key) const;
  // The C++ name of struct `schema_name` of the schema ("::instadump_schema::shop::ShopItem").
  std::string capnp_struct(const std::string& schema_name) const { return ns_ + "::" + schema_name; }
  // Where Cap'n Proto puts struct `struct_name` and its field `field` (schema names).
  const struct_layout& layout(const std::string& struct_name) const;
  const field_layout& layout(const std::string& struct_name, const std::string& field) const;

  // `object.member`, through the member pointer for a non-public member.
  std::string member_of(const std::string& key, const member& mem, const std::string& object) const;
  // The pointer to non-public member `mem` of record `key`, as a constant
  // expression that is valid anywhere after member_access_tags().
  std::string private_member_pointer(const std::string& key, const member& mem) const;
  // The member_access template the code reaches non-public members with.
  static std::string member_access_template();
  // The tags and explicit instantiations of member_access for every
  // non-public member the codec reads or writes ("" if there are none).
  std::string member_access_tags() const;

 private:
  void plan_member(const member& mem, const std::vector<member>& layout);
  void plan(const std::string& key);
  std::string access_tag(const std::string& key, const member& mem) const;

  const model& m_;
  const schema_history& h_;
  const schema_output& schema_;
  nesting depth_;
  std::string ns_;  // "::" + the C++ namespace of the capnp code
  std::set<std::string> seen_;
  std::set<std::pair<std::string, unsigned>> older_layouts_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> ids_;
};

// `s` as a C++ string literal ("shop::items" -> "\"shop::items\"").
std::string string_literal(const std::string& s);

}  // namespace instadump_codegen
