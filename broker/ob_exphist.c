/* ob_exphist.c: exponential histogram arithmetic (see ob_exphist.h).
 *
 * Index arithmetic is done in int64_t: an OTLP side is an int32 offset plus
 * up to 2^32 buckets, and C's >> of a negative value is implementation-defined
 * where the merge needs floor division.
 */
#include "ob_exphist.h"
#include "ob_pbwrite.h"
#include "ob_store_layout.h" /* the sample layout */

#include <float.h>
#include <math.h>
#include <string.h>

/* floor(x / 2^by).  Past 62 steps every index of an int32 side is 0 or -1. */
static int64_t floor_shift(int64_t x, unsigned by)
{
    if (by > 62)
        by = 62;
    return x >= 0 ? x >> by : -((-x - 1) >> by) - 1;
}

/* ---- scale ---------------------------------------------------------------- */

bool ob_exphist_schema(int32_t scale, int32_t *out_schema, unsigned *out_by)
{
    if (scale < OB_EXPHIST_MIN_SCALE)
        return false;
    unsigned by = scale > OB_EXPHIST_MAX_SCALE ? (unsigned)(scale - OB_EXPHIST_MAX_SCALE) : 0;
    *out_schema = scale - (int32_t)by;
    *out_by = by;
    return true;
}

/* Bucket offset+i lands at relative index floor((offset+i)/2^by) - floor(offset/2^by),
 * never past i, so the merge can run in place front to back: each target is
 * either the one being filled or the next, whose old count was already read. */
uint32_t ob_exphist_downscale(double *counts, uint32_t n, int32_t *io_offset, unsigned by)
{
    if (n == 0 || by == 0)
        return n;
    int64_t first = floor_shift(*io_offset, by);
    uint32_t w = 0;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t r = (uint32_t)(floor_shift((int64_t)*io_offset + i, by) - first);
        if (r != w) {
            w = r;
            counts[w] = counts[i];
        } else {
            counts[w] += counts[i];
        }
    }
    *io_offset = (int32_t)first;
    return w + 1;
}

/* ---- bounds --------------------------------------------------------------- */

/* Prometheus' bucket bounds within [0.5, 1) at schema 8, 2^(j/256 - 1),
 * exactly the doubles of its exponentialBounds table (model/histogram): they
 * are not all the correctly rounded ones, and the broker's bounds must be
 * Prometheus' own, so they are data here, not computed.  Its tables for
 * schemas 1..7 are this one's entries j << (8 - schema). */
static const double frac8[256] = {
    0.5, 0.5013556375251013, 0.5027149505564014, 0.5040779490592088,
    0.5054446430258502, 0.5068150424757447, 0.5081891574554764, 0.509566998038869,
    0.5109485743270583, 0.5123338964485679, 0.5137229745593818, 0.5151158188430205,
    0.5165124395106142, 0.5179128468009786, 0.5193170509806894, 0.520725062344158,
    0.5221368912137069, 0.5235525479396449, 0.5249720429003435, 0.526395386502313,
    0.5278225891802786, 0.5292536613972564, 0.5306886136446309, 0.5321274564422321,
    0.5335702003384117, 0.5350168559101208, 0.5364674337629877, 0.5379219445313954,
    0.5393803988785598, 0.5408428074966075, 0.5423091811066545, 0.5437795304588847,
    0.5452538663326288, 0.5467321995364429, 0.5482145409081883, 0.549700901315111,
    0.5511912916539204, 0.5526857228508706, 0.5541842058618393, 0.5556867516724088,
    0.5571933712979462, 0.5587040757836845, 0.5602188762048033, 0.5617377836665098,
    0.5632608093041209, 0.564787964283144, 0.5663192597993595, 0.5678547070789026,
    0.5693943173783458, 0.5709381019847808, 0.572486072215902, 0.5740382394200894,
    0.5755946149764913, 0.5771552102951081, 0.5787200368168754, 0.5802891060137493,
    0.5818624293887887, 0.5834400184762408, 0.585021884841625, 0.5866080400818185,
    0.5881984958251406, 0.5897932637314379, 0.5913923554921704, 0.5929957828304968,
    0.5946035575013605, 0.5962156912915756, 0.5978321960199137, 0.5994530835371903,
    0.6010783657263515, 0.6027080545025619, 0.6043421618132907, 0.6059806996384005,
    0.6076236799902344, 0.6092711149137041, 0.6109230164863786, 0.6125793968185725,
    0.6142402680534349, 0.6159056423670379, 0.6175755319684665, 0.6192499490999082,
    0.620928906036742, 0.622612415087629, 0.6243004885946023, 0.6259931389331581,
    0.6276903785123455, 0.6293922197748583, 0.6310986751971253, 0.6328097572894031,
    0.6345254785958666, 0.6362458516947014, 0.637970889198196, 0.6397006037528346,
    0.6414350080393891, 0.6431741147730128, 0.6449179367033329, 0.6466664866145447,
    0.6484197773255048, 0.6501778216898253, 0.6519406325959679, 0.6537082229673385,
    0.6554806057623822, 0.6572577939746774, 0.659039800633032, 0.6608266388015788,
    0.6626183215798706, 0.6644148621029772, 0.6662162735415805, 0.6680225691020727,
    0.6698337620266515, 0.6716498655934177, 0.6734708931164728, 0.6752968579460171,
    0.6771277734684463, 0.6789636531064505, 0.6808045103191123, 0.6826503586020058,
    0.6845012114872953, 0.6863570825438342, 0.688217985377265, 0.690083933630119,
    0.6919549409819159, 0.6938310211492645, 0.6957121878859629, 0.6975984549830999,
    0.6994898362691555, 0.7013863456101023, 0.7032879969095076, 0.7051948041086352,
    0.7071067811865475, 0.7090239421602076, 0.7109463010845827, 0.7128738720527471,
    0.7148066691959849, 0.7167447066838943, 0.718687998724491, 0.7206365595643126,
    0.7225904034885232, 0.7245495448210174, 0.7265139979245261, 0.7284837772007218,
    0.7304588970903234, 0.7324393720732029, 0.7344252166684908, 0.7364164454346837,
    0.7384130729697496, 0.7404151139112358, 0.7424225829363761, 0.7444354947621984,
    0.7464538641456323, 0.7484777058836176, 0.7505070348132126, 0.7525418658117031,
    0.7545822137967112, 0.7566280937263048, 0.7586795205991071, 0.7607365094544071,
    0.762799075372269, 0.7648672334736434, 0.7669409989204777, 0.7690203869158282,
    0.7711054127039704, 0.7731960915705107, 0.7752924388424999, 0.7773944698885442,
    0.7795022001189185, 0.7816156449856788, 0.7837348199827764, 0.7858597406461707,
    0.7879904225539431, 0.7901268813264122, 0.7922691326262467, 0.7944171921585818,
    0.7965710756711334, 0.7987307989543135, 0.8008963778413465, 0.8030678282083853,
    0.805245165974627, 0.8074284071024302, 0.8096175675974316, 0.8118126635086642,
    0.8140137109286738, 0.8162207259936375, 0.8184337248834821, 0.820652723822003,
    0.8228777390769823, 0.8251087869603088, 0.8273458838280969, 0.8295890460808079,
    0.8318382901633681, 0.8340936325652911, 0.8363550898207981, 0.8386226785089391,
    0.8408964152537144, 0.8431763167241966, 0.8454623996346523, 0.8477546807446661,
    0.8500531768592616, 0.8523579048290255, 0.8546688815502312, 0.8569861239649629,
    0.8593096490612387, 0.8616394738731368, 0.8639756154809185, 0.8663180910111553,
    0.8686669176368529, 0.871022112577578, 0.8733836930995842, 0.8757516765159389,
    0.8781260801866495, 0.8805069215187917, 0.8828942179666361, 0.8852879870317771,
    0.8876882462632604, 0.890095013257712, 0.8925083056594671, 0.8949281411607002,
    0.8973545375015533, 0.8997875124702672, 0.9022270839033115, 0.9046732696855155,
    0.9071260877501991, 0.909585556079304, 0.9120516927035263, 0.9145245157024483,
    0.9170040432046711, 0.9194902933879467, 0.9219832844793128, 0.9244830347552253,
    0.9269895625416926, 0.92950288621441, 0.9320230241988943, 0.9345499949706191,
    0.9370838170551498, 0.93962450902828, 0.9421720895161669, 0.9447265771954693,
    0.9472879907934827, 0.9498563490882775, 0.9524316709088368, 0.9550139751351947,
    0.9576032806985735, 0.9601996065815236, 0.9628029718180622, 0.9654133954938133,
    0.9680308967461471, 0.9706554947643201, 0.9732872087896164, 0.9759260581154889,
    0.9785720620876999, 0.9812252401044634, 0.9838856116165875, 0.9865531961276168,
    0.9892280131939752, 0.9919100824251095, 0.9945994234836328, 0.9972960560854698,
};

/* ldexp takes an int; anything past +-2200 is 0 or +Inf already. */
static double pow2(double frac, int64_t e)
{
    if (e > 2200)
        e = 2200;
    if (e < -2200)
        e = -2200;
    return ldexp(frac, (int)e);
}

/* The bound 2^1024 would be +Inf; Prometheus makes it DBL_MAX so that the
 * bucket above, the one for +-Inf observations, is the only one reaching
 * +Inf.  2^1024 is a bound at every schema (k << -schema == 1024 below 0,
 * fraction 0.5 and exponent 1025 from 0 up). */
static double bound64(int64_t k, int32_t schema)
{
    if (schema < OB_EXPHIST_MIN_SCALE || schema > OB_EXPHIST_MAX_SCALE)
        return NAN;
    if (schema <= 0) {
        int64_t e = k * ((int64_t)1 << -schema);
        return e == 1024 ? DBL_MAX : pow2(1, e);
    }
    int64_t hi = floor_shift(k, (unsigned)schema);
    int64_t j = k - hi * ((int64_t)1 << schema);
    if (j == 0 && hi + 1 == 1025)
        return DBL_MAX;
    return pow2(frac8[j << (8 - schema)], hi + 1);
}

double ob_exphist_bound(int32_t k, int32_t schema)
{
    return bound64(k, schema);
}

/* ---- native spans --------------------------------------------------------- */

/* The translator reads counts as uint64; these doubles were one. */
static uint64_t count_u64(double c)
{
    if (!(c > 0))
        return 0;
    if (c >= 18446744073709551616.0)
        return UINT64_MAX;
    return (uint64_t)c;
}

/* Go's int64(a - b) on uint64s: two's complement wrap, spelled out because
 * C leaves the conversion of values past INT64_MAX to the implementation. */
static int64_t wrap_delta(uint64_t a, uint64_t b)
{
    uint64_t d = a - b;
    return d <= INT64_MAX ? (int64_t)d : -(int64_t)(UINT64_MAX - d) - 1;
}

struct layout {
    struct ob_native_span *spans;
    int64_t *deltas;
    size_t n_spans, n_deltas;
    uint64_t prev;
};

static void put(struct layout *l, uint64_t c)
{
    l->spans[l->n_spans - 1].length++;
    l->deltas[l->n_deltas++] = wrap_delta(c, l->prev);
    l->prev = c;
}

/* convertBucketsLayout at scaleDown 0, restated: its loop holds one bucket
 * back and only writes it when the next one arrives, skipping it when empty,
 * which is why the first span starts where the side starts and why the last
 * bucket is written even when empty.  Index casts to int32 wrap as Go's
 * int32 arithmetic would; real indexes are far inside (doubles end near
 * +-2^18 at schema 8). */
size_t ob_exphist_spans(const double *counts, uint32_t n, int32_t offset,
                        struct ob_native_span *spans, int64_t *deltas, size_t *out_n_deltas)
{
    if (n == 0) {
        *out_n_deltas = 0;
        return 0;
    }
    struct layout l = {.spans = spans, .deltas = deltas, .n_spans = 1};
    int64_t first = (int64_t)offset + 1;
    int64_t next = first; /* the index the current span would write next */
    spans[0] = (struct ob_native_span){.offset = (int32_t)first, .length = 0};
    for (uint32_t i = 0; i < n; i++) {
        uint64_t c = count_u64(counts[i]);
        if (c == 0 && i + 1 < n)
            continue;
        int64_t k = first + i;
        int64_t gap = k - next;
        if (gap > 2)
            spans[l.n_spans++] = (struct ob_native_span){.offset = (int32_t)gap, .length = 0};
        else
            for (; gap > 0; gap--)
                put(&l, 0);
        put(&l, c);
        next = k + 1;
    }
    *out_n_deltas = l.n_deltas;
    return l.n_spans;
}

/* ---- classic fallback ----------------------------------------------------- */

struct side {
    double *c;
    int32_t off;
    uint32_t n;
};

static void lower(struct side *s, unsigned by)
{
    s->n = ob_exphist_downscale(s->c, s->n, &s->off, by);
}

static double nonneg(double c)
{
    return c > 0 ? c : 0;
}

/* One pass over the buckets in ascending order: bounds are numbered as they
 * are kept, and those numbered skip .. skip + max - 1 are written. */
struct walk {
    double total; /* sum of every bucket: once reached, only empty ones remain */
    double count; /* the point's count, the cap of every cumulative count */
    uint32_t skip, max;
    double *bounds, *cumulative;
    uint32_t kept;
    double sum, last;
};

static void write_cum(struct walk *w, uint32_t i)
{
    if (i >= w->skip && i - w->skip < w->max)
        w->cumulative[i - w->skip] = w->sum < w->count ? w->sum : w->count;
}

/* False once every count has been taken: the rest are trailing empties. */
static bool take(struct walk *w, double ub, double c)
{
    if (w->sum >= w->total)
        return false;
    w->sum += nonneg(c);
    if (w->sum == 0 || !isfinite(ub))
        return true; /* a leading empty, or a count for the next bound (or +Inf) */
    if (w->kept > 0 && ub <= w->last) {
        write_cum(w, w->kept - 1);
        return true;
    }
    uint32_t i = w->kept++;
    w->last = ub;
    if (i >= w->skip && i - w->skip < w->max)
        w->bounds[i - w->skip] = ub + 0.0; /* -0 (a negative bound underflowed) as 0 */
    write_cum(w, i);
    return true;
}

/* Returns how many bounds the point has at schema s, writing the window. */
static uint32_t walk(struct walk *w, const struct side *neg, const struct side *pos, int32_t s,
                     double zero_ub, double zero_count)
{
    for (uint32_t i = neg->n; i-- > 0;)
        if (!take(w, -bound64((int64_t)neg->off + i, s), neg->c[i]))
            return w->kept;
    if (!take(w, zero_ub, zero_count))
        return w->kept;
    for (uint32_t i = 0; i < pos->n; i++)
        if (!take(w, bound64((int64_t)pos->off + i + 1, s), pos->c[i]))
            break;
    return w->kept;
}

/* Positive buckets under the zero threshold hold values under it too, so
 * they are counted in the zero bucket, and before any lowering of the scale:
 * merged with a neighbour reaching above the threshold, their count would
 * move above it. */
static double absorb(struct side *pos, int32_t s, double zero_ub)
{
    double moved = 0;
    for (uint32_t i = 0; i < pos->n && bound64((int64_t)pos->off + i + 1, s) <= zero_ub; i++) {
        moved += nonneg(pos->c[i]);
        pos->c[i] = 0;
    }
    return moved;
}

static double side_sum(const struct side *s)
{
    double t = 0;
    for (uint32_t i = 0; i < s->n; i++)
        t += nonneg(s->c[i]);
    return t;
}

uint32_t ob_exphist_classic(const struct ob_exphist_view *h, uint32_t max_buckets, double *bounds,
                            double *cumulative, double *scratch)
{
    int32_t s;
    unsigned by;
    if (max_buckets == 0 || !(h->count > 0) || !ob_exphist_schema(h->scale, &s, &by))
        return 0;
    struct side pos = {scratch, h->pos_offset, h->n_pos};
    struct side neg = {scratch + h->n_pos, h->neg_offset, h->n_neg};
    if (h->n_pos)
        memcpy(pos.c, h->pos, h->n_pos * sizeof *pos.c);
    if (h->n_neg)
        memcpy(neg.c, h->neg, h->n_neg * sizeof *neg.c);
    lower(&pos, by);
    lower(&neg, by);
    double zero_ub = h->zero_threshold > 0 ? h->zero_threshold : 0;
    double zero_count = nonneg(h->zero_count) + absorb(&pos, s, zero_ub);
    struct walk w0 = {
        .total = side_sum(&neg) + zero_count + side_sum(&pos),
        .count = h->count,
        .max = max_buckets,
        .bounds = bounds,
        .cumulative = cumulative,
    };
    if (!(w0.total > 0))
        return 0;
    for (;;) {
        struct walk w = w0;
        uint32_t kept = walk(&w, &neg, &pos, s, zero_ub, zero_count);
        if (kept <= max_buckets)
            return kept;
        if (s == OB_EXPHIST_MIN_SCALE) {
            /* Still too many: leave the lowest out. */
            w = w0;
            w.skip = kept - max_buckets;
            walk(&w, &neg, &pos, s, zero_ub, zero_count);
            return max_buckets;
        }
        lower(&pos, 1);
        lower(&neg, 1);
        s--;
    }
}

int ob_exphist_classic_sample(const double *d, uint32_t room, uint32_t max_buckets, double *bounds,
                              double *v, double *scratch)
{
    uint32_t np = (uint32_t)d[OB_SAMPLE_EXP_POS_N], nn = (uint32_t)d[OB_SAMPLE_EXP_NEG_N];
    if ((uint64_t)np + nn > room)
        return -1;
    const double *pos = d + OB_SAMPLE_EXP_BUCKET0;
    const struct ob_exphist_view h = {
        .scale = (int32_t)d[OB_SAMPLE_EXP_SCALE],
        .zero_threshold = d[OB_SAMPLE_EXP_ZERO_THRESHOLD],
        .zero_count = d[OB_SAMPLE_EXP_ZERO_COUNT],
        .pos_offset = (int32_t)d[OB_SAMPLE_EXP_POS_OFFSET],
        .neg_offset = (int32_t)d[OB_SAMPLE_EXP_NEG_OFFSET],
        .n_pos = np,
        .n_neg = nn,
        .pos = pos,
        .neg = pos + np,
        .count = d[OB_SAMPLE_COUNT],
        .sum = d[OB_SAMPLE_SUM],
    };
    uint32_t k = ob_exphist_classic(&h, max_buckets, bounds, v + OB_SAMPLE_POINT0, scratch);
    v[OB_SAMPLE_COUNT] = h.count;
    v[OB_SAMPLE_SUM] = h.sum;
    v[OB_SAMPLE_POINT0 + k] = h.count; /* +Inf */
    return (int)k;
}

/* One side: spans and deltas. */
static bool write_side(struct ob_buf *out, struct ob_buf *scratch, unsigned span_field,
                       unsigned delta_field, const double *counts, uint32_t n, int32_t offset)
{
    if (n == 0)
        return true;
    scratch->len = 0;
    if (!ob_buf_reserve(scratch, (size_t)n * (sizeof(struct ob_native_span) + sizeof(int64_t))))
        return false;
    struct ob_native_span *spans = (struct ob_native_span *)(void *)scratch->data;
    int64_t *deltas = (int64_t *)(void *)(scratch->data + (size_t)n * sizeof *spans);
    size_t n_deltas, n_spans = ob_exphist_spans(counts, n, offset, spans, deltas, &n_deltas);
    for (size_t i = 0; i < n_spans; i++) {
        uint64_t off = ob_pb_zigzag(spans[i].offset);
        ob_pb_tag(out, span_field, OB_PB_LEN);
        ob_pb_varint(out, 2 + ob_pb_varint_len(off) + ob_pb_varint_len(spans[i].length));
        ob_pb_uint(out, 1, off);
        ob_pb_uint(out, 2, spans[i].length);
    }
    if (n_deltas) {
        size_t len = 0;
        for (size_t i = 0; i < n_deltas; i++)
            len += ob_pb_varint_len(ob_pb_zigzag(deltas[i]));
        ob_pb_tag(out, delta_field, OB_PB_LEN);
        ob_pb_varint(out, len);
        for (size_t i = 0; i < n_deltas; i++)
            ob_pb_varint(out, ob_pb_zigzag(deltas[i]));
    }
    return !out->failed;
}

int ob_exphist_write_native(struct ob_buf *out, struct ob_buf *scratch, const struct ob_native_fields *f,
                            const double *d, uint32_t room, bool has_sum)
{
    uint32_t np = (uint32_t)d[OB_SAMPLE_EXP_POS_N], nn = (uint32_t)d[OB_SAMPLE_EXP_NEG_N];
    if ((uint64_t)np + nn > room)
        return 0;
    ob_pb_count(out, f->count, f->count_float, d[OB_SAMPLE_COUNT]);
    if (has_sum)
        ob_pb_double(out, f->sum, d[OB_SAMPLE_SUM]);
    ob_pb_uint(out, f->schema, ob_pb_zigzag((int64_t)d[OB_SAMPLE_EXP_SCALE]));
    double zt = d[OB_SAMPLE_EXP_ZERO_THRESHOLD];
    ob_pb_double(out, f->zero_threshold, zt > 0 ? zt : OB_EXPHIST_PROM_ZERO_THRESHOLD);
    ob_pb_count(out, f->zero_count, f->zero_count_float, d[OB_SAMPLE_EXP_ZERO_COUNT]);
    const double *pos = d + OB_SAMPLE_EXP_BUCKET0;
    if (!write_side(out, scratch, f->neg_spans, f->neg_deltas, pos + np, nn,
                    (int32_t)d[OB_SAMPLE_EXP_NEG_OFFSET]) ||
        !write_side(out, scratch, f->pos_spans, f->pos_deltas, pos, np, (int32_t)d[OB_SAMPLE_EXP_POS_OFFSET]))
        return -1;
    return 1;
}
