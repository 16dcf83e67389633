/* ob_attrs.c: OTLP attribute values as text (pdata's AsString) and a
 * point's raw attributes as bytes (its stream identity).  See ob_attrs.h. */
#include "ob_attrs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_float.h"
#include "ob_utf8.h"

#define MAX_VALUE_DEPTH 16 /* nesting of array/kvlist attribute values */

static void base64(struct ob_buf *b, const uint8_t *p, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < len ? tab[v >> 6 & 63] : '=',
                     i + 2 < len ? tab[v & 63] : '='};
        ob_buf_append(b, q, 4);
    }
}

static int kv_cmp(const void *a, const void *b)
{
    const key_value *x = *(key_value *const *)a, *y = *(key_value *const *)b;
    return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

/* Appends v as JSON the way Go's encoding/json writes pdata's AsRaw():
 * maps with sorted keys, bytes as base64 strings, empty values as null. */
static bool value_json(struct ob_buf *b, const any_value *v, int depth)
{
    if (depth > MAX_VALUE_DEPTH)
        return false;
    if (!v) {
        ob_buf_puts(b, "null");
        return true;
    }
    char num[64];
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        ob_buf_json_string(b, v->string_value, strlen(v->string_value));
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        ob_buf_puts(b, v->bool_value ? "true" : "false");
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        ob_buf_printf(b, "%lld", (long long)v->int_value);
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        if (!isfinite(v->double_value))
            return false; /* encoding/json refuses these */
        ob_buf_append(b, num, ob_format_double_json(v->double_value, num));
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        ob_buf_putc(b, '"');
        base64(b, v->bytes_value.data, v->bytes_value.len);
        ob_buf_putc(b, '"');
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
        ob_buf_putc(b, '[');
        const Opentelemetry__Proto__Common__V1__ArrayValue *a = v->array_value;
        for (size_t i = 0; a && i < a->n_values; i++) {
            if (i)
                ob_buf_putc(b, ',');
            if (!value_json(b, a->values[i], depth + 1))
                return false;
        }
        ob_buf_putc(b, ']');
        return true;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
        const Opentelemetry__Proto__Common__V1__KeyValueList *kl = v->kvlist_value;
        size_t n = kl ? kl->n_values : 0;
        if (n > 1)
            qsort(kl->values, n, sizeof *kl->values, kv_cmp); /* the arena's copy: ours */
        ob_buf_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            const char *k = kl->values[i]->key ? kl->values[i]->key : "";
            if (i)
                ob_buf_putc(b, ',');
            ob_buf_json_string(b, k, strlen(k));
            ob_buf_putc(b, ':');
            if (!value_json(b, kl->values[i]->value, depth + 1))
                return false;
        }
        ob_buf_putc(b, '}');
        return true;
    }
    default:
        ob_buf_puts(b, "null");
        return true;
    }
}

bool ob_attr_string(struct ob_attr_render *w, const any_value *v, struct ob_str *out)
{
    *out = (struct ob_str){"", 0};
    if (!v)
        return true;
    char num[64];
    const char *text = NULL;
    size_t len = 0;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        out->ptr = v->string_value;
        out->len = strlen(v->string_value);
        return ob_utf8_valid(out->ptr, out->len);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        text = v->bool_value ? "true" : "false";
        len = strlen(text);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        len = (size_t)snprintf(num, sizeof num, "%lld", (long long)v->int_value);
        text = num;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        len = ob_format_double_json(v->double_value, num);
        text = num;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        w->json.len = 0;
        if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE)
            base64(&w->json, v->bytes_value.data, v->bytes_value.len);
        else if (!value_json(&w->json, v, 0))
            return false;
        if (w->json.failed || !ob_utf8_valid(w->json.data, w->json.len))
            return false;
        text = w->json.data;
        len = w->json.len;
        break;
    default:
        return true; /* empty AnyValue: "" */
    }
    char *copy = ob_arena_alloc(w->arena, len + 1);
    if (!copy)
        return false;
    memcpy(copy, text, len);
    copy[len] = '\0';
    *out = (struct ob_str){copy, len};
    return true;
}

bool ob_attrs_raw(struct ob_attr_render *w, key_value **kvs, size_t n, struct ob_buf *b)
{
    b->len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = kvs[i]->key ? kvs[i]->key : "";
        const any_value *v = kvs[i]->value;
        uint32_t kind = v ? (uint32_t)v->value_case : 0;
        const void *val = NULL;
        size_t val_len = 0;
        struct ob_str rendered;
        switch (kind) {
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
            val = v->string_value;
            val_len = strlen(v->string_value);
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
            val = kind == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE
                      ? (const void *)&v->bool_value
                  : kind == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE
                      ? (const void *)&v->int_value
                      : (const void *)&v->double_value;
            val_len = kind == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE
                          ? sizeof v->bool_value
                          : 8;
            break;
        case 0:
            break;
        default:
            if (!ob_attr_string(w, v, &rendered))
                return false;
            val = rendered.ptr;
            val_len = rendered.len;
            break;
        }
        uint32_t lens[3] = {(uint32_t)strlen(key), kind, (uint32_t)val_len};
        if (!ob_buf_reserve(b, sizeof lens + lens[0] + val_len))
            return false;
        char *p = b->data + b->len;
        memcpy(p, lens, sizeof lens);
        memcpy(p + sizeof lens, key, lens[0]);
        if (val_len)
            memcpy(p + sizeof lens + lens[0], val, val_len);
        b->len += sizeof lens + lens[0] + val_len;
    }
    return true;
}

