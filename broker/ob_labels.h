/* ob_labels.h: the label block, one owner for a format that lives in the
 * store's mapping.
 *
 * A series' labels are stored as one block of text, ready to be copied
 * between the braces of a Prometheus text line (that is why a 1 M-series
 * scrape is fast).  The grammar:
 *
 *   block  = [ QUOTED ] pair *( "," pair )      (an empty block: no labels)
 *   pair   = name "=" DQUOTE value DQUOTE
 *   name   = legacy-name / DQUOTE escaped DQUOTE
 *   value  = escaped
 *   legacy-name = [a-zA-Z_][a-zA-Z0-9_]*
 *   escaped: UTF-8 with  \  "  and newline written \\  \"  \n
 *
 * - Pairs are sorted by name (bytewise) and names are unique; when two
 *   attributes translate to one name, the value is theirs joined with ';'
 *   in the order of their original keys (Prometheus' collision rule).
 * - QUOTED (OB_LABELS_QUOTED, one byte 0x01) comes first when some name is
 *   not a legacy name; only those names are quoted.  Only the UTF-8
 *   translation strategies make such blocks.  A scraper that reads UTF-8
 *   names gets the block without the marker; any other gets the names
 *   escaped with underscores (ob_labels_legacy).
 * - The store adds nothing: a block is what ob_labels_render() wrote.
 *
 * Writers: ingest (ob_labels_render).  Readers: the text exposition (copies
 * the block), and anything that needs pairs (ob_labels_next: remote write,
 * the protobuf exposition).  Self-metrics escape their values here too.
 */
#ifndef OB_LABELS_H
#define OB_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include "ob_buf.h"
#include "ob_common.h"
#include "translator.h" /* struct ob_str */

#define OB_LABELS_QUOTED '\x01'

/* Legacy Prometheus names: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*. */
bool ob_legacy_metric_name(const char *s, size_t len);
bool ob_legacy_label_name(const char *s, size_t len);

/* Appends s escaped for a label value (\\, \", \n). */
void ob_escape_label_value(struct ob_buf *out, const char *s, size_t len);
/* Appends s escaped for text 0.0.4 HELP (\\, \n; quotes stay).  The same
 * loop: the exposition's text escapes live here, undone by
 * ob_labels_unescape. */
void ob_escape_help(struct ob_buf *out, const char *s, size_t len);

/* Appends name with every code point that is not legal at its place in a
 * legacy name (metric: colons allowed) replaced by '_', as Prometheus'
 * "underscores" escaping does.  quoted: name is escaped text from a block
 * (a backslash escape counts as one character). */
void ob_escape_underscores(struct ob_buf *out, const char *name, size_t len, bool metric,
                           bool quoted);

/* One label while a set is built.  prio decides who wins a name: lower
 * wins (0 job/instance, 1 data-point attribute, 2 promoted resource
 * attribute); orig (the OTLP key) orders the values of a collision. */
struct ob_label {
    struct ob_str name;
    struct ob_str value;
    struct ob_str orig;
    int prio;
};

/* Sorts l (in place), resolves name clashes and writes the block into out
 * (emptied first).  Returns the number of labels written, or -1 on
 * allocation failure. */
long ob_labels_render(struct ob_label *l, size_t n, struct ob_buf *out);

/* A block rewritten for a scraper that does not read UTF-8 names: without
 * the marker, quoted names escaped with underscores, values as they are.
 * block must start with OB_LABELS_QUOTED.  Into out (emptied first). */
void ob_labels_legacy(struct ob_buf *out, const char *block, size_t len);

/* Walks the pairs of a block.  Names and values come as they are in the
 * block: still escaped (ob_labels_unescape gives the text), quoted names
 * without their quotes. */
struct ob_labels_iter {
    const char *p, *end;
};
struct ob_label_pair {
    const char *name, *value;
    size_t name_len, value_len;
};
void ob_labels_iter_init(struct ob_labels_iter *it, const char *block, size_t len);
/* The next pair; false at the end (or at a malformed rest, which a block
 * from ob_labels_render never has). */
bool ob_labels_next(struct ob_labels_iter *it, struct ob_label_pair *out);
/* Appends escaped text from a block as plain text (\\ \" \n undone). */
void ob_labels_unescape(struct ob_buf *out, const char *s, size_t len);

#endif
