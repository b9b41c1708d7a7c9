// SPDX-License-Identifier: GPL-2.0-or-later
// LVM2 text metadata: tokenizer and parser. The token rules follow what
// LVM's own reader accepts (libdm/libdm-config.c, _get_token): a digit,
// sign or point starts a number only where a value may stand (after `=`,
// `[` or `,`); elsewhere such text is a name. Lists hold scalars only.
#include "plugins/volume/lvm_text.hpp"

#include <charconv>

#include <fmt/format.h>

namespace vmdf::lvm_text {
namespace {

enum class Tok { end, name, lbrace, rbrace, lbracket, rbracket, comma, equals, string, integer, decimal };

struct Token {
    Tok kind = Tok::end;
    std::string text;  // name, string (unescaped), or the number as written
    std::int64_t integer = 0;
    unsigned line = 0;
};

std::string describe(const Token& t) {
    switch (t.kind) {
        case Tok::end: return "the end of the text";
        case Tok::name: return fmt::format("'{}'", t.text);
        case Tok::lbrace: return "'{'";
        case Tok::rbrace: return "'}'";
        case Tok::lbracket: return "'['";
        case Tok::rbracket: return "']'";
        case Tok::comma: return "','";
        case Tok::equals: return "'='";
        case Tok::string: return "a string";
        case Tok::integer:
        case Tok::decimal: return fmt::format("the number {}", t.text);
    }
    return "?";
}

Failure error_at(unsigned line, const std::string& message) {
    return failf(Errc::corrupt, std::nullopt, "metadata text line {}: {}", line, message);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/// Characters that end a name or a bare word.
bool is_delimiter(char c) {
    return is_space(c) || c == '#' || c == '=' || c == '{' || c == '}' || c == '[' || c == ']' ||
           c == ',' || c == '"' || c == '\'';
}

class Lexer {
public:
    explicit Lexer(std::string_view text) : text_(text) {}

    unsigned line() const { return line_; }

    /// The next token; `value_context` says whether a number may start here.
    Result<Token> next(bool value_context) {
        skip_space_and_comments();
        Token t;
        t.line = line_;
        if (pos_ >= text_.size()) return t;
        const char c = text_[pos_];
        switch (c) {
            case '{': ++pos_; t.kind = Tok::lbrace; return t;
            case '}': ++pos_; t.kind = Tok::rbrace; return t;
            case '[': ++pos_; t.kind = Tok::lbracket; return t;
            case ']': ++pos_; t.kind = Tok::rbracket; return t;
            case ',': ++pos_; t.kind = Tok::comma; return t;
            case '=': ++pos_; t.kind = Tok::equals; return t;
            case '"': return quoted(t, true);
            case '\'': return quoted(t, false);
            default: break;
        }
        if (value_context && (c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'))) {
            if (number(t)) return t;
            if (t.kind == Tok::integer && !t.text.empty())
                return error_at(t.line, fmt::format("integer {} out of range", t.text));
        }
        const std::size_t start = pos_;
        while (pos_ < text_.size() && !is_delimiter(text_[pos_])) ++pos_;
        t.kind = Tok::name;
        t.text = std::string(text_.substr(start, pos_ - start));
        return t;
    }

private:
    void skip_space_and_comments() {
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == '\n') {
                ++line_;
                ++pos_;
            } else if (is_space(c)) {
                ++pos_;
            } else if (c == '#') {
                while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
            } else {
                break;
            }
        }
    }

    Result<Token> quoted(Token& t, bool escapes) {
        const char quote = text_[pos_++];
        t.kind = Tok::string;
        while (true) {
            if (pos_ >= text_.size())
                return error_at(t.line, fmt::format("string opened here has no closing {}", quote));
            char c = text_[pos_++];
            if (c == quote) return t;
            if (c == '\\' && escapes) {
                // libdm writes only \" and \\ (dm_escape_double_quotes);
                // any escaped character stands for itself.
                if (pos_ >= text_.size())
                    return error_at(t.line, "string ends in a lone backslash");
                c = text_[pos_++];
            }
            if (c == '\n') ++line_;
            t.text.push_back(c);
        }
    }

    /// A number ending at a delimiter. False (with pos_ unchanged) if the
    /// text here is not one, so that it is read as a bare word instead;
    /// false with t.kind == integer if it is an integer out of range.
    bool number(Token& t) {
        std::size_t p = pos_;
        if (text_[p] == '+' || text_[p] == '-') ++p;
        std::size_t digits = 0, points = 0;
        for (; p < text_.size(); ++p) {
            const char c = text_[p];
            if (c >= '0' && c <= '9') {
                ++digits;
            } else if (c == '.' && points == 0) {
                ++points;
            } else {
                break;
            }
        }
        if (digits == 0 || (p < text_.size() && !is_delimiter(text_[p]))) return false;
        std::string_view lexeme = text_.substr(pos_, p - pos_);
        t.text = std::string(lexeme);
        if (points != 0) {
            t.kind = Tok::decimal;
            pos_ = p;
            return true;
        }
        t.kind = Tok::integer;
        if (lexeme.front() == '+') lexeme.remove_prefix(1);
        auto [end, ec] = std::from_chars(lexeme.data(), lexeme.data() + lexeme.size(), t.integer);
        if (ec != std::errc{} || end != lexeme.data() + lexeme.size()) return false;
        pos_ = p;
        return true;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    unsigned line_ = 1;
};

class Parser {
public:
    Parser(std::string_view text, const Limits& limits) : lexer_(text), limits_(limits) {}

    Result<Node> file() {
        Node root;
        root.is_section = true;
        root.line = 1;
        VMDF_TRY(items(root, 0));
        return root;
    }

private:
    Status count_item(unsigned line) {
        if (++items_ > limits_.max_items)
            return error_at(line, fmt::format("more than {} settings, sections and list items",
                                              limits_.max_items));
        return {};
    }

    /// The contents of `parent` up to its closing brace (or the end of the
    /// text for the root, depth 0).
    Status items(Node& parent, unsigned depth) {
        while (true) {
            VMDF_TRY_ASSIGN(Token t, lexer_.next(false));
            if (t.kind == Tok::end) {
                if (depth == 0) return {};
                return error_at(t.line, fmt::format("section '{}' opened on line {} is not closed",
                                                    parent.key, parent.line));
            }
            if (t.kind == Tok::rbrace) {
                if (depth > 0) return {};
                return error_at(t.line, "'}' closes no section");
            }
            if (t.kind != Tok::name)
                return error_at(t.line, fmt::format("expected a name, found {}", describe(t)));
            VMDF_TRY(count_item(t.line));
            Node node;
            node.key = std::move(t.text);
            node.line = t.line;
            VMDF_TRY_ASSIGN(Token op, lexer_.next(false));
            if (op.kind == Tok::lbrace) {
                if (depth + 1 > limits_.max_depth)
                    return error_at(op.line, fmt::format("sections nest deeper than {}", limits_.max_depth));
                node.is_section = true;
                VMDF_TRY(items(node, depth + 1));
            } else if (op.kind == Tok::equals) {
                VMDF_TRY_ASSIGN(node.value, value());
            } else {
                return error_at(op.line, fmt::format("expected '=' or '{{' after '{}', found {}",
                                                     node.key, describe(op)));
            }
            parent.children.push_back(std::move(node));
        }
    }

    static Result<Value> scalar(Token t) {
        Value v;
        v.line = t.line;
        switch (t.kind) {
            case Tok::integer:
                v.kind = Value::Kind::integer;
                v.integer = t.integer;
                return v;
            case Tok::decimal:
                v.kind = Value::Kind::decimal;
                v.text = std::move(t.text);
                return v;
            case Tok::string:
            case Tok::name:  // a bare word where a value stands
                v.kind = Value::Kind::string;
                v.text = std::move(t.text);
                return v;
            default:
                return error_at(t.line, fmt::format("expected a value, found {}", describe(t)));
        }
    }

    Result<Value> value() {
        VMDF_TRY_ASSIGN(Token t, lexer_.next(true));
        if (t.kind != Tok::lbracket) return scalar(std::move(t));
        Value list;
        list.kind = Value::Kind::list;
        list.line = t.line;
        VMDF_TRY_ASSIGN(Token item, lexer_.next(true));
        if (item.kind == Tok::rbracket) return list;
        while (true) {
            if (item.kind == Tok::lbracket)
                return error_at(item.line, "lists cannot hold lists");
            VMDF_TRY(count_item(item.line));
            VMDF_TRY_ASSIGN(Value element, scalar(std::move(item)));
            list.items.push_back(std::move(element));
            VMDF_TRY_ASSIGN(Token sep, lexer_.next(false));
            if (sep.kind == Tok::rbracket) return list;
            if (sep.kind != Tok::comma)
                return error_at(sep.line, fmt::format("expected ',' or ']' in the list opened on line {}, found {}",
                                                      list.line, describe(sep)));
            VMDF_TRY_ASSIGN(item, lexer_.next(true));
        }
    }

    Lexer lexer_;
    const Limits& limits_;
    std::size_t items_ = 0;
};

const char* kind_name(Value::Kind k) {
    switch (k) {
        case Value::Kind::integer: return "an integer";
        case Value::Kind::decimal: return "a decimal number";
        case Value::Kind::string: return "a string";
        case Value::Kind::list: return "a list";
    }
    return "?";
}

}  // namespace

const Node* Node::find(std::string_view name) const {
    for (const Node& child : children)
        if (child.key == name) return &child;
    return nullptr;
}

const Node* Node::section(std::string_view name) const {
    for (const Node& child : children)
        if (child.is_section && child.key == name) return &child;
    return nullptr;
}

namespace {

Result<const Value*> setting(const Node& node, std::string_view key, Value::Kind kind) {
    const Node* child = node.find(key);
    if (!child) return failf(Errc::corrupt, std::nullopt, "'{}' has no '{}'", node.key, key);
    if (child->is_section || child->value.kind != kind)
        return failf(Errc::corrupt, std::nullopt, "'{}' on line {} is {}, not {}", key, child->line,
                     child->is_section ? "a section" : kind_name(child->value.kind), kind_name(kind));
    return &child->value;
}

}  // namespace

Result<std::uint64_t> Node::get_uint(std::string_view name) const {
    VMDF_TRY_ASSIGN(const Value* v, setting(*this, name, Value::Kind::integer));
    if (v->integer < 0)
        return failf(Errc::corrupt, std::nullopt, "'{}' on line {} is negative ({})", name, v->line,
                     v->integer);
    return static_cast<std::uint64_t>(v->integer);
}

Result<std::string> Node::get_string(std::string_view name) const {
    VMDF_TRY_ASSIGN(const Value* v, setting(*this, name, Value::Kind::string));
    return v->text;
}

Result<const std::vector<Value>*> Node::get_list(std::string_view name) const {
    VMDF_TRY_ASSIGN(const Value* v, setting(*this, name, Value::Kind::list));
    return &v->items;
}

Result<std::vector<std::string>> Node::get_string_list(std::string_view name) const {
    std::vector<std::string> out;
    if (!find(name)) return out;
    VMDF_TRY_ASSIGN(const std::vector<Value>* items, get_list(name));
    for (const Value& v : *items) {
        if (!v.is_string())
            return failf(Errc::corrupt, std::nullopt, "'{}' on line {} holds {}, not strings", name,
                         v.line, kind_name(v.kind));
        out.push_back(v.text);
    }
    return out;
}

Result<Node> parse(std::string_view text, const Limits& limits) {
    if (auto nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
    if (text.size() > limits.max_text_bytes)
        return failf(Errc::corrupt, std::nullopt, "metadata text of {} bytes, more than the limit of {}",
                     text.size(), limits.max_text_bytes);
    return Parser(text, limits).file();
}

}  // namespace vmdf::lvm_text
