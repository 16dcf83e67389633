/* ob_status.c: the name map and the rejection log (ob_status.h). */
#include "ob_status.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "ob_remote_write.h"
#include "ob_selfmetrics.h"
#include "ob_store.h"

#define PARTS 16u
#define PART_SLOTS (OB_STATUS_NAMES / PARTS)
#define PROBES 32u /* slots looked at for a name, and for the one to replace */

struct name_entry {
    uint64_t hash; /* of the key; 0 = empty */
    enum ob_frontend fe;
    char name[128], unit[32], service[64], family[128];
    const char *type, *temporality; /* static strings */
    int64_t last_ms, reject_ms;
    uint64_t points, rejected;
    int reason;
};

static struct part {
    pthread_mutex_t lock;
    _Atomic uint32_t used; /* entries in use (read without the lock to size a copy) */
    struct name_entry e[PART_SLOTS];
} parts[PARTS] = {
#define P {.lock = PTHREAD_MUTEX_INITIALIZER}
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
#undef P
};

struct rejection {
    int64_t ms;
    enum ob_frontend fe;
    char what[32], metric[128], peer[64], detail[200];
    uint64_t points;
};

static pthread_mutex_t rej_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rejection rejections[OB_STATUS_REJECTIONS];
static uint64_t rej_total; /* ever logged; the newest is at (rej_total - 1) % N */

static void copy_text(char *to, size_t cap, const char *s, size_t n)
{
    n = n < cap - 1 ? n : cap - 1;
    memcpy(to, s, n);
    to[n] = '\0';
}

static uint64_t key_hash(const struct ob_status_metric *m)
{
    uint64_t h = XXH3_64bits_withSeed(m->name, m->name_len, (uint64_t)m->fe + 1);
    h = XXH3_64bits_withSeed(m->unit, m->unit_len, h);
    h = XXH3_64bits_withSeed(m->service, m->service_len, h);
    h = XXH3_64bits_withSeed(m->type, strlen(m->type), h);
    h = XXH3_64bits_withSeed(m->temporality, strlen(m->temporality), h);
    return h ? h : 1;
}

void ob_status_seen(const struct ob_status_metric *m, int64_t now_ms)
{
    uint64_t h = key_hash(m);
    struct part *p = &parts[h % PARTS];
    uint32_t home = (uint32_t)((h / PARTS) % PART_SLOTS);
    pthread_mutex_lock(&p->lock);
    struct name_entry *e = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < PROBES && !e; i++) {
        struct name_entry *x = &p->e[(home + i) % PART_SLOTS];
        if (x->hash == h)
            e = x;
        else if (!oldest || !x->hash || (oldest->hash && x->last_ms < oldest->last_ms))
            oldest = x;
    }
    if (!e) { /* new (or the probed one sent least recently makes room) */
        e = oldest;
        if (!e->hash)
            atomic_fetch_add_explicit(&p->used, 1, memory_order_relaxed);
        *e = (struct name_entry){.hash = h, .fe = m->fe, .type = m->type,
                                 .temporality = m->temporality, .reason = -1};
        copy_text(e->name, sizeof e->name, m->name, m->name_len);
        copy_text(e->unit, sizeof e->unit, m->unit, m->unit_len);
        copy_text(e->service, sizeof e->service, m->service, m->service_len);
    }
    if (m->family[0])
        copy_text(e->family, sizeof e->family, m->family, strlen(m->family));
    e->last_ms = now_ms;
    e->points += m->points;
    e->rejected += m->rejected;
    if (m->rejected) {
        e->reason = m->reason;
        e->reject_ms = now_ms;
    }
    pthread_mutex_unlock(&p->lock);
}

void ob_status_refused(enum ob_frontend fe, const char *what, const char *metric,
                       const char *peer, uint64_t points, const char *detail, int64_t now_ms)
{
    pthread_mutex_lock(&rej_lock);
    struct rejection *r = &rejections[rej_total++ % OB_STATUS_REJECTIONS];
    *r = (struct rejection){.ms = now_ms, .fe = fe, .points = points};
    copy_text(r->what, sizeof r->what, what, strlen(what));
    copy_text(r->metric, sizeof r->metric, metric, strlen(metric));
    copy_text(r->peer, sizeof r->peer, peer, strlen(peer));
    copy_text(r->detail, sizeof r->detail, detail, strlen(detail));
    pthread_mutex_unlock(&rej_lock);
}

void ob_status_reset(void)
{
    for (uint32_t i = 0; i < PARTS; i++) {
        pthread_mutex_lock(&parts[i].lock);
        memset(parts[i].e, 0, sizeof parts[i].e);
        atomic_store_explicit(&parts[i].used, 0, memory_order_relaxed);
        pthread_mutex_unlock(&parts[i].lock);
    }
    pthread_mutex_lock(&rej_lock);
    rej_total = 0;
    pthread_mutex_unlock(&rej_lock);
}

/* ---- snapshots ------------------------------------------------------------- */

static int by_listener_family(const void *a, const void *b)
{
    const struct name_entry *x = a, *y = b;
    if (x->fe != y->fe)
        return (int)x->fe - (int)y->fe;
    int c = strcmp(x->family, y->family);
    return c ? c : strcmp(x->name, y->name);
}

/* A sorted copy of the name map (malloc); *n entries.  NULL without memory. */
static struct name_entry *names_copy(size_t *n)
{
    size_t cap = 16;
    for (uint32_t i = 0; i < PARTS; i++) /* sized for what is there, give or take */
        cap += atomic_load_explicit(&parts[i].used, memory_order_relaxed);
    struct name_entry *all = malloc(sizeof *all * cap);
    if (!all)
        return NULL;
    *n = 0;
    for (uint32_t i = 0; i < PARTS; i++) {
        pthread_mutex_lock(&parts[i].lock);
        for (uint32_t k = 0; k < PART_SLOTS && *n < cap; k++)
            if (parts[i].e[k].hash)
                all[(*n)++] = parts[i].e[k];
        pthread_mutex_unlock(&parts[i].lock);
    }
    qsort(all, *n, sizeof *all, by_listener_family);
    return all;
}

/* The rejection log, newest first, into r (room for OB_STATUS_REJECTIONS). */
static size_t rejections_copy(struct rejection *r)
{
    pthread_mutex_lock(&rej_lock);
    size_t n = rej_total < OB_STATUS_REJECTIONS ? (size_t)rej_total : OB_STATUS_REJECTIONS;
    for (size_t i = 0; i < n; i++)
        r[i] = rejections[(rej_total - 1 - i) % OB_STATUS_REJECTIONS];
    pthread_mutex_unlock(&rej_lock);
    return n;
}

static void put_time(struct ob_buf *out, int64_t ms)
{
    if (ms <= 0)
        return;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    ob_buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static const char *reason_of(int r)
{
    return r >= 0 ? ob_reason_name((enum ob_reason)r) : "";
}

/* ---- HTML ------------------------------------------------------------------ */

static void html(struct ob_buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': ob_buf_puts(out, "&amp;"); break;
        case '<': ob_buf_puts(out, "&lt;"); break;
        case '>': ob_buf_puts(out, "&gt;"); break;
        case '"': ob_buf_puts(out, "&quot;"); break;
        default: ob_buf_putc(out, *s);
        }
    }
}

static void td(struct ob_buf *out, const char *s)
{
    ob_buf_puts(out, "<td>");
    html(out, s);
    ob_buf_puts(out, "</td>");
}

static void td_num(struct ob_buf *out, uint64_t v)
{
    ob_buf_printf(out, "<td class=n>%" PRIu64 "</td>", v);
}

static void td_time(struct ob_buf *out, int64_t ms)
{
    ob_buf_puts(out, "<td>");
    put_time(out, ms);
    ob_buf_puts(out, "</td>");
}

/* The page's order: rejected ones first (last rejection, newest first), then
 * the ones sent last. */
static int for_the_page(const void *a, const void *b)
{
    const struct name_entry *x = a, *y = b;
    if (x->reject_ms != y->reject_ms)
        return x->reject_ms < y->reject_ms ? 1 : -1;
    if (x->last_ms != y->last_ms)
        return x->last_ms < y->last_ms ? 1 : -1;
    return by_listener_family(a, b);
}

int ob_status_html(struct ob_store *s, const struct ob_status_listeners *l, int64_t now_ms,
                   const char *query, struct ob_buf *out)
{
    ob_buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>otlp-broker</title>"
                     "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;"
                     "margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
                     "th{background:#eee}.n{text-align:right}</style></head><body>\n");
    ob_buf_printf(out, "<h1>otlp-broker %s</h1>\n<p>", OB_VERSION);
    put_time(out, now_ms);
    ob_buf_puts(out, " &middot; <a href=\"/metrics\">/metrics</a> &middot; "
                     "<a href=\"/api/v1/status\">/api/v1/status</a> &middot; "
                     "<a href=\"/api/v1/names\">/api/v1/names</a></p>\n");

    ob_buf_puts(out, "<h2>Listeners</h2>\n<table id=listeners><tr><th>listener</th><th>address</th>"
                     "<th>translator</th></tr>\n");
    for (int fe = 0; fe < OB_FE__COUNT; fe++) {
        char plugin[256];
        ob_sm_plugin((enum ob_frontend)fe, plugin, sizeof plugin);
        ob_buf_puts(out, "<tr>");
        td(out, ob_frontend_name((enum ob_frontend)fe));
        td(out, l && l->address[fe] && l->address[fe][0] ? l->address[fe] : "(off)");
        td(out, plugin);
        ob_buf_puts(out, "</tr>\n");
    }
    ob_buf_puts(out, "</table>\n");

    if (s) {
        struct ob_store_stats st;
        ob_store_stats(s, &st);
        ob_buf_printf(out,
                      "<h2>Store</h2>\n<table id=store><tr><th>series</th><td class=n>%u of %u</td></tr>"
                      "<tr><th>families</th><td class=n>%u of %u</td></tr>"
                      "<tr><th>heap bytes</th><td class=n>%" PRIu64 " of %" PRIu64 "</td></tr>"
                      "<tr><th>exemplar bytes</th><td class=n>%" PRIu64 " of %" PRIu64 "</td></tr>"
                      "</table>\n",
                      st.series_live, st.series_max, st.families, st.families_max, st.heap_used,
                      st.heap_bytes, st.exemplar_bytes, st.exemplar_budget);
    }

    size_t n_rw = ob_remote_write_targets(l ? l->remote_write : NULL);
    if (n_rw) {
        ob_buf_puts(out, "<h2>Remote write</h2>\n<table id=remote_write><tr><th>target</th><th>url</th>"
                         "<th>protocol</th><th>shards</th><th>samples sent</th><th>histograms sent</th>"
                         "<th>pending</th><th>dropped</th><th>retries</th><th>last status</th>"
                         "<th>last success</th><th>newest sent</th><th>last refusal</th></tr>\n");
        for (size_t i = 0; i < n_rw; i++) {
            struct ob_rw_target_status t;
            ob_remote_write_target_status(l->remote_write, i, &t);
            ob_buf_puts(out, "<tr>");
            td(out, t.name);
            td(out, t.url);
            td(out, t.protocol);
            td_num(out, t.shards);
            td_num(out, t.samples_sent);
            td_num(out, t.histograms_sent);
            td_num(out, t.pending);
            td_num(out, t.dropped);
            td_num(out, t.retries);
            td_num(out, (uint64_t)t.last_status);
            td_time(out, t.last_ok_ms);
            td_time(out, t.highest_sent_ms);
            ob_buf_puts(out, "<td>");
            put_time(out, t.last_error_ms);
            ob_buf_puts(out, t.last_error[0] ? " " : "");
            html(out, t.last_error);
            ob_buf_puts(out, "</td></tr>\n");
        }
        ob_buf_puts(out, "</table>\n");
    }

    ob_buf_puts(out, "<h2>Data points rejected, by reason</h2>\n<table id=reasons>"
                     "<tr><th>reason</th><th>points</th></tr>\n");
    for (int r = 0; r < OB_REASON__COUNT; r++) {
        ob_buf_puts(out, "<tr>");
        td(out, ob_reason_name((enum ob_reason)r));
        td_num(out, ob_sm_rejected((enum ob_reason)r));
        ob_buf_puts(out, "</tr>\n");
    }
    ob_buf_puts(out, "</table>\n");

    size_t n;
    struct name_entry *names = names_copy(&n);
    if (!names)
        return -ENOMEM;
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) /* the search, in place */
        if (!query || !query[0] || strstr(names[i].name, query) || strstr(names[i].family, query))
            names[shown++] = names[i];
    qsort(names, shown, sizeof *names, for_the_page);
    ob_buf_printf(out, "<h2>Metrics seen (%zu)</h2>\n<form action=\"/\"><input name=q value=\"", n);
    html(out, query ? query : "");
    ob_buf_puts(out, "\" placeholder=\"OTLP name or family contains\"> <input type=submit "
                     "value=search></form>\n");
    if (shown > OB_STATUS_PAGE_ROWS)
        ob_buf_printf(out, "<p>%d of %zu shown (rejected ones first, then the ones sent last): "
                           "search, or see <a href=\"/api/v1/names\">/api/v1/names</a> for all.</p>\n",
                      OB_STATUS_PAGE_ROWS, shown);
    n = shown < OB_STATUS_PAGE_ROWS ? shown : OB_STATUS_PAGE_ROWS;
    ob_buf_puts(out, "<table id=names><tr><th>listener</th>"
                     "<th>OTLP metric</th><th>unit</th><th>type</th><th>temporality</th>"
                     "<th>service.name</th><th>Prometheus family</th><th>series</th>"
                     "<th>points</th><th>last update</th><th>rejected</th><th>last reason</th>"
                     "<th>at</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const struct name_entry *e = &names[i];
        ob_buf_puts(out, "<tr>");
        td(out, ob_frontend_name(e->fe));
        td(out, e->name);
        td(out, e->unit);
        td(out, e->type);
        td(out, e->temporality);
        td(out, e->service);
        td(out, e->family);
        td_num(out, s && e->family[0] ? ob_store_family_live(s, e->family, strlen(e->family)) : 0);
        td_num(out, e->points);
        td_time(out, e->last_ms);
        td_num(out, e->rejected);
        td(out, reason_of(e->reason));
        td_time(out, e->reject_ms);
        ob_buf_puts(out, "</tr>\n");
    }
    free(names);
    ob_buf_puts(out, "</table>\n");

    struct rejection *r = malloc(sizeof *r * OB_STATUS_REJECTIONS);
    if (!r)
        return -ENOMEM;
    size_t nr = rejections_copy(r);
    ob_buf_printf(out, "<h2>Last rejections (%zu)</h2>\n<table id=rejections><tr><th>at</th>"
                       "<th>listener</th><th>what</th><th>metric</th><th>from</th><th>points</th>"
                       "<th>detail</th></tr>\n",
                  nr);
    for (size_t i = 0; i < nr; i++) {
        ob_buf_puts(out, "<tr>");
        td_time(out, r[i].ms);
        td(out, ob_frontend_name(r[i].fe));
        td(out, r[i].what);
        td(out, r[i].metric);
        td(out, r[i].peer);
        td_num(out, r[i].points);
        td(out, r[i].detail);
        ob_buf_puts(out, "</tr>\n");
    }
    free(r);
    /* How long the browser took, for whoever wonders whether the page is light. */
    ob_buf_puts(out, "</table>\n<p>rendered in <span id=rendered>?</span> ms</p>\n"
                     "<script>addEventListener('load',function(){document.getElementById('rendered')"
                     ".textContent=Math.round(performance.now())})</script>\n</body></html>\n");
    return out->failed ? -ENOMEM : 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_str(struct ob_buf *out, const char *s)
{
    ob_buf_json_string(out, s, strlen(s));
}

static void json_time(struct ob_buf *out, int64_t ms)
{
    if (ms <= 0) {
        ob_buf_puts(out, "null");
        return;
    }
    ob_buf_putc(out, '"');
    put_time(out, ms);
    ob_buf_putc(out, '"');
}

int ob_status_json(struct ob_store *s, const struct ob_status_listeners *l, struct ob_buf *out)
{
    ob_buf_puts(out, "{\"version\":");
    json_str(out, OB_VERSION);
    ob_buf_puts(out, ",\"listeners\":[");
    for (int fe = 0; fe < OB_FE__COUNT; fe++) {
        char plugin[256];
        ob_sm_plugin((enum ob_frontend)fe, plugin, sizeof plugin);
        ob_buf_puts(out, fe ? ",{\"listener\":" : "{\"listener\":");
        json_str(out, ob_frontend_name((enum ob_frontend)fe));
        ob_buf_puts(out, ",\"address\":");
        json_str(out, l && l->address[fe] ? l->address[fe] : "");
        ob_buf_puts(out, ",\"translator\":");
        json_str(out, plugin);
        ob_buf_putc(out, '}');
    }
    ob_buf_puts(out, "]");
    if (s) {
        struct ob_store_stats st;
        ob_store_stats(s, &st);
        ob_buf_printf(out,
                      ",\"store\":{\"series\":%u,\"series_max\":%u,\"families\":%u,"
                      "\"families_max\":%u,\"heap_bytes_used\":%" PRIu64 ",\"heap_bytes\":%" PRIu64
                      ",\"exemplar_bytes\":%" PRIu64 ",\"exemplar_bytes_max\":%" PRIu64 "}",
                      st.series_live, st.series_max, st.families, st.families_max, st.heap_used,
                      st.heap_bytes, st.exemplar_bytes, st.exemplar_budget);
    }
    ob_buf_puts(out, ",\"remote_write\":[");
    for (size_t i = 0; i < ob_remote_write_targets(l ? l->remote_write : NULL); i++) {
        struct ob_rw_target_status t;
        ob_remote_write_target_status(l->remote_write, i, &t);
        ob_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        json_str(out, t.name);
        ob_buf_puts(out, ",\"url\":");
        json_str(out, t.url);
        ob_buf_puts(out, ",\"protocol\":");
        json_str(out, t.protocol);
        ob_buf_printf(out,
                      ",\"shards\":%u,\"samples_sent\":%" PRIu64 ",\"histograms_sent\":%" PRIu64
                      ",\"pending\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"retries\":%" PRIu64
                      ",\"last_status\":%d,\"last_success\":",
                      t.shards, t.samples_sent, t.histograms_sent, t.pending, t.dropped, t.retries,
                      t.last_status);
        json_time(out, t.last_ok_ms);
        ob_buf_puts(out, ",\"newest_sent\":");
        json_time(out, t.highest_sent_ms);
        ob_buf_puts(out, ",\"last_refusal\":");
        json_time(out, t.last_error_ms);
        ob_buf_puts(out, ",\"last_refusal_message\":");
        json_str(out, t.last_error);
        ob_buf_putc(out, '}');
    }
    ob_buf_puts(out, "],\"rejected\":{");
    for (int r = 0; r < OB_REASON__COUNT; r++) {
        if (r)
            ob_buf_putc(out, ',');
        json_str(out, ob_reason_name((enum ob_reason)r));
        ob_buf_printf(out, ":%" PRIu64, ob_sm_rejected((enum ob_reason)r));
    }
    ob_buf_puts(out, "},\"rejections\":[");
    struct rejection *r = malloc(sizeof *r * OB_STATUS_REJECTIONS);
    if (!r)
        return -ENOMEM;
    size_t nr = rejections_copy(r);
    for (size_t i = 0; i < nr; i++) {
        ob_buf_puts(out, i ? ",{\"at\":" : "{\"at\":");
        json_time(out, r[i].ms);
        ob_buf_puts(out, ",\"listener\":");
        json_str(out, ob_frontend_name(r[i].fe));
        ob_buf_puts(out, ",\"what\":");
        json_str(out, r[i].what);
        ob_buf_puts(out, ",\"metric\":");
        json_str(out, r[i].metric);
        ob_buf_puts(out, ",\"from\":");
        json_str(out, r[i].peer);
        ob_buf_printf(out, ",\"points\":%" PRIu64 ",\"detail\":", r[i].points);
        json_str(out, r[i].detail);
        ob_buf_putc(out, '}');
    }
    free(r);
    ob_buf_puts(out, "]}\n");
    return out->failed ? -ENOMEM : 0;
}

int ob_status_names_json(struct ob_store *s, struct ob_buf *out)
{
    size_t n;
    struct name_entry *names = names_copy(&n);
    if (!names)
        return -ENOMEM;
    ob_buf_puts(out, "{\"names\":[");
    for (size_t i = 0; i < n; i++) {
        const struct name_entry *e = &names[i];
        ob_buf_puts(out, i ? ",{\"listener\":" : "{\"listener\":");
        json_str(out, ob_frontend_name(e->fe));
        ob_buf_puts(out, ",\"metric\":");
        json_str(out, e->name);
        ob_buf_puts(out, ",\"unit\":");
        json_str(out, e->unit);
        ob_buf_puts(out, ",\"type\":");
        json_str(out, e->type);
        ob_buf_puts(out, ",\"temporality\":");
        json_str(out, e->temporality);
        ob_buf_puts(out, ",\"service\":");
        json_str(out, e->service);
        ob_buf_puts(out, ",\"family\":");
        json_str(out, e->family);
        ob_buf_printf(out, ",\"series\":%u,\"points\":%" PRIu64 ",\"last_update\":",
                      s && e->family[0] ? ob_store_family_live(s, e->family, strlen(e->family)) : 0,
                      e->points);
        json_time(out, e->last_ms);
        ob_buf_printf(out, ",\"rejected\":%" PRIu64 ",\"last_reason\":", e->rejected);
        json_str(out, reason_of(e->reason));
        ob_buf_puts(out, ",\"last_rejection\":");
        json_time(out, e->reject_ms);
        ob_buf_putc(out, '}');
    }
    free(names);
    ob_buf_puts(out, "]}\n");
    return out->failed ? -ENOMEM : 0;
}
