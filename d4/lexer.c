/* The D4 lexer: source bytes to tokens. It reads (buf, len) and never looks
 * past len or for a terminating NUL; every error names line:col and quotes
 * the bad text. Lines and columns count from 1, columns in bytes. */
#include "d4/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *word;
	enum d4_tok kind;
} keywords[] = {
    {"loop", TK_LOOP}, {"on", TK_ON},	      {"if", TK_IF},
    {"elif", TK_ELIF}, {"else", TK_ELSE},     {"endif", TK_ENDIF},
    {"for", TK_FOR},   {"in", TK_IN},	      {"to", TK_TO},
    {"step", TK_STEP}, {"endfor", TK_ENDFOR}, {"and", TK_AND},
    {"or", TK_OR},     {"not", TK_NOT},	      {"drop", TK_DROP},
    {"pass", TK_PASS}, {"int", TK_INT_T},     {"IP", TK_IP_T},
};

static const char *const tok_names[TK_COUNT] = {
    [TK_EOF] = "end of input",
    [TK_NL] = "end of line",
    [TK_NAME] = "a name",
    [TK_INT] = "an integer",
    [TK_BYTES] = "a byte literal",
    [TK_EP] = "an address",
    [TK_LPAREN] = "'('",
    [TK_RPAREN] = "')'",
    [TK_LBRACK] = "'['",
    [TK_RBRACK] = "']'",
    [TK_LBRACE] = "'{'",
    [TK_RBRACE] = "'}'",
    [TK_COMMA] = "','",
    [TK_COLON] = "':'",
    [TK_ASSIGN] = "'='",
    [TK_ADD_ASSIGN] = "'+='",
    [TK_SUB_ASSIGN] = "'-='",
    [TK_EQ] = "'=='",
    [TK_NE] = "'!='",
    [TK_LT] = "'<'",
    [TK_LE] = "'<='",
    [TK_GT] = "'>'",
    [TK_GE] = "'>='",
    [TK_PLUS] = "'+'",
    [TK_MINUS] = "'-'",
    [TK_STAR] = "'*'",
    [TK_SLASH] = "'/'",
    [TK_PERCENT] = "'%'",
    [TK_AMP] = "'&'",
    [TK_PIPE] = "'|'",
    [TK_CARET] = "'^'",
    [TK_TILDE] = "'~'",
    [TK_SHL] = "'<<'",
    [TK_SHR] = "'>>'",
    [TK_LOOP] = "'loop'",
    [TK_ON] = "'on'",
    [TK_IF] = "'if'",
    [TK_ELIF] = "'elif'",
    [TK_ELSE] = "'else'",
    [TK_ENDIF] = "'endif'",
    [TK_FOR] = "'for'",
    [TK_IN] = "'in'",
    [TK_TO] = "'to'",
    [TK_STEP] = "'step'",
    [TK_ENDFOR] = "'endfor'",
    [TK_AND] = "'and'",
    [TK_OR] = "'or'",
    [TK_NOT] = "'not'",
    [TK_DROP] = "'drop'",
    [TK_PASS] = "'pass'",
    [TK_INT_T] = "'int'",
    [TK_IP_T] = "'IP'",
};

const char *d4_tok_name(enum d4_tok kind)
{
	if ((unsigned int)kind >= TK_COUNT)
		return "?";
	return tok_names[kind];
}

/* Copy @n bytes of source as an error quotes them: printable ASCII as is,
 * anything else as \xNN, cut with "..." past 40 characters. */
static void quote_bytes(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0, i;

	if (!len)
		return;
	for (i = 0; i < n && o + 8 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 40) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
	}
	buf[o] = '\0';
}

void d4_tok_quote(const struct d4_token *t, char *buf, size_t len)
{
	char q[200];

	if (t->kind == TK_EOF || (t->kind == TK_NL && t->text[0] == '\n')) {
		snprintf(buf, len, "%s", d4_tok_name(t->kind));
		return;
	}
	quote_bytes(t->text, t->len, q, sizeof(q));
	snprintf(buf, len, "'%s'", q);
}

struct lexer {
	const char *src;
	size_t len;
	size_t pos;
	int line;
	size_t line_start;
	struct d4_tokens *out;
	struct d4_diag *d;
};

static bool is_name_start(int c)
{
	return isalpha(c) || c == '_';
}

static bool is_name_char(int c)
{
	return isalnum(c) || c == '_';
}

static int peek(const struct lexer *lx, size_t ahead)
{
	if (lx->pos + ahead >= lx->len)
		return -1;
	return (unsigned char)lx->src[lx->pos + ahead];
}

static int col_of(const struct lexer *lx, size_t pos)
{
	return (int)(pos - lx->line_start) + 1;
}

static void lex_fail(struct lexer *lx, size_t start, size_t end,
		     const char *fmt)
{
	char q[200];

	quote_bytes(lx->src + start, end - start, q, sizeof(q));
	d4_diag_set(lx->d, lx->line, col_of(lx, start), fmt, q);
}

static struct d4_token *push(struct lexer *lx, enum d4_tok kind, size_t start,
			     size_t end)
{
	struct d4_token *t = &lx->out->tok[lx->out->n++];

	t->kind = kind;
	t->line = lx->line;
	t->col = col_of(lx, start);
	t->text = lx->src + start;
	t->len = (uint32_t)(end - start);
	return t;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A word of 2..16 hex digits and a closing 'h' is a byte literal. */
static int lex_bytes(struct lexer *lx, size_t start, size_t end)
{
	size_t ndig = end - start - 1, i;
	uint64_t v = 0;
	struct d4_token *t;

	if (ndig % 2) {
		lex_fail(lx, start, end, D4_ERR_BYTES_ODD);
		return -EINVAL;
	}
	if (ndig > 2 * D4_MAX_SLICE) {
		char q[200];

		quote_bytes(lx->src + start, end - start, q, sizeof(q));
		d4_diag_set(lx->d, lx->line, col_of(lx, start),
			    D4_ERR_BYTES_LONG, q, D4_MAX_SLICE);
		return -EINVAL;
	}
	for (i = 0; i < ndig; i++)
		v = v << 4 | (uint64_t)hexval(lx->src[start + i]);
	t = push(lx, TK_BYTES, start, end);
	t->ival = (int64_t)v;
	t->width = (int)(ndig / 2);
	return 0;
}

static bool is_hex_word(const char *s, size_t n)
{
	size_t i;

	if (n < 2 || s[n - 1] != 'h')
		return false;
	for (i = 0; i + 1 < n; i++)
		if (hexval((unsigned char)s[i]) < 0)
			return false;
	return true;
}

static int lex_name(struct lexer *lx)
{
	size_t start = lx->pos, n, i;

	while (lx->pos < lx->len && is_name_char(peek(lx, 0)))
		lx->pos++;
	n = lx->pos - start;
	/* "beefh" is bytes; "each" (odd) stays a name */
	if (is_hex_word(lx->src + start, n) && (n - 1) % 2 == 0)
		return lex_bytes(lx, start, lx->pos);
	if (n > D4_MAX_NAME) {
		char q[200];

		quote_bytes(lx->src + start, n, q, sizeof(q));
		d4_diag_set(lx->d, lx->line, col_of(lx, start),
			    D4_ERR_NAME_LONG, q, D4_MAX_NAME);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		if (strlen(keywords[i].word) == n &&
		    !memcmp(keywords[i].word, lx->src + start, n)) {
			push(lx, keywords[i].kind, start, lx->pos);
			return 0;
		}
	}
	push(lx, TK_NAME, start, lx->pos);
	return 0;
}

/* Decimal digits at pos; *v saturates past @max. Returns digits read. */
static size_t scan_dec(struct lexer *lx, uint64_t max, uint64_t *v, bool *over)
{
	size_t n = 0;
	int c;

	*v = 0;
	while ((c = peek(lx, 0)) >= '0' && c <= '9') {
		if (*v > (max - (uint64_t)(c - '0')) / 10)
			*over = true;
		else
			*v = *v * 10 + (uint64_t)(c - '0');
		lx->pos++;
		n++;
	}
	return n;
}

/* a.b.c.d[:port] with the first octet already known to start here. */
static int lex_endpoint(struct lexer *lx, size_t start)
{
	uint32_t addr = 0;
	uint64_t v, port = 0;
	bool over = false;
	struct d4_token *t;
	int i;

	for (i = 0; i < 4; i++) {
		if (i && peek(lx, 0) == '.')
			lx->pos++;
		else if (i)
			goto bad;
		if (scan_dec(lx, 999, &v, &over) == 0 || v > 255 || over)
			goto bad;
		addr = addr << 8 | (uint32_t)v;
	}
	if (peek(lx, 0) == ':' && peek(lx, 1) >= '0' && peek(lx, 1) <= '9') {
		lx->pos++;
		if (scan_dec(lx, 999999, &port, &over) == 0 || over ||
		    port == 0 || port > 65535)
			goto bad;
	}
	if (peek(lx, 0) >= 0 &&
	    (is_name_char(peek(lx, 0)) || peek(lx, 0) == '.'))
		goto bad;
	t = push(lx, TK_EP, start, lx->pos);
	t->ival = (int64_t)d4_ep_make(addr, (uint16_t)port);
	return 0;
bad:
	while (
	    peek(lx, 0) >= 0 &&
	    (is_name_char(peek(lx, 0)) || peek(lx, 0) == '.' ||
	     (peek(lx, 0) == ':' && peek(lx, 1) >= '0' && peek(lx, 1) <= '9')))
		lx->pos++;
	lex_fail(lx, start, lx->pos, D4_ERR_ADDR);
	return -EINVAL;
}

static int lex_number(struct lexer *lx)
{
	size_t start = lx->pos, p;
	uint64_t v = 0;
	bool over = false;
	struct d4_token *t;
	int c;

	/* a run of hex digits closed by 'h' is a byte literal */
	for (p = start; p < lx->len && hexval((unsigned char)lx->src[p]) >= 0;
	     p++)
		;
	if (p < lx->len && lx->src[p] == 'h' &&
	    (p + 1 >= lx->len ||
	     !is_name_char((unsigned char)lx->src[p + 1]))) {
		lx->pos = p + 1;
		return lex_bytes(lx, start, lx->pos);
	}
	if (peek(lx, 0) == '0' && (peek(lx, 1) == 'x' || peek(lx, 1) == 'X')) {
		size_t nd = 0;

		lx->pos += 2;
		while (hexval(peek(lx, 0)) >= 0) {
			if (v >> 60)
				over = true;
			v = v << 4 | (uint64_t)hexval(peek(lx, 0));
			lx->pos++;
			nd++;
		}
		if (nd == 0)
			goto bad;
	} else {
		scan_dec(lx, INT64_MAX, &v, &over);
		if (peek(lx, 0) == '.' && peek(lx, 1) >= '0' &&
		    peek(lx, 1) <= '9') {
			lx->pos = start;
			return lex_endpoint(lx, start);
		}
	}
	c = peek(lx, 0);
	if (c >= 0 && is_name_char(c))
		goto bad;
	if (over) {
		lex_fail(lx, start, lx->pos, D4_ERR_INT_RANGE);
		return -EINVAL;
	}
	t = push(lx, TK_INT, start, lx->pos);
	t->ival = (int64_t)v;
	return 0;
bad:
	while (peek(lx, 0) >= 0 && is_name_char(peek(lx, 0)))
		lx->pos++;
	lex_fail(lx, start, lx->pos, D4_ERR_NUMBER);
	return -EINVAL;
}

/* One- and two-character operators, longest first. */
static const struct {
	char s[3];
	enum d4_tok kind;
} puncts[] = {
    {"+=", TK_ADD_ASSIGN}, {"-=", TK_SUB_ASSIGN}, {"==", TK_EQ},
    {"!=", TK_NE},	   {"<=", TK_LE},	  {">=", TK_GE},
    {"<<", TK_SHL},	   {">>", TK_SHR},	  {"(", TK_LPAREN},
    {")", TK_RPAREN},	   {"[", TK_LBRACK},	  {"]", TK_RBRACK},
    {"{", TK_LBRACE},	   {"}", TK_RBRACE},	  {",", TK_COMMA},
    {":", TK_COLON},	   {"=", TK_ASSIGN},	  {"<", TK_LT},
    {">", TK_GT},	   {"+", TK_PLUS},	  {"-", TK_MINUS},
    {"*", TK_STAR},	   {"/", TK_SLASH},	  {"%", TK_PERCENT},
    {"&", TK_AMP},	   {"|", TK_PIPE},	  {"^", TK_CARET},
    {"~", TK_TILDE},	   {";", TK_NL},
};

static int lex_punct(struct lexer *lx)
{
	size_t i, n;

	for (i = 0; i < sizeof(puncts) / sizeof(puncts[0]); i++) {
		n = strlen(puncts[i].s);
		if (lx->pos + n <= lx->len &&
		    !memcmp(lx->src + lx->pos, puncts[i].s, n)) {
			push(lx, puncts[i].kind, lx->pos, lx->pos + n);
			lx->pos += n;
			return 0;
		}
	}
	lex_fail(lx, lx->pos, lx->pos + 1, D4_ERR_CHAR);
	return -EINVAL;
}

int d4_lex(const char *src, size_t len, struct d4_arena *arena,
	   struct d4_tokens *out, struct d4_diag *d)
{
	struct lexer lx = {
	    .src = src,
	    .len = len,
	    .line = 1,
	    .out = out,
	    .d = d,
	};
	int c, ret;

	out->n = 0;
	if (len > D4_MAX_SRC) {
		d4_diag_set(d, 1, 1, D4_ERR_TEXT_LONG, D4_MAX_SRC);
		return -EINVAL;
	}
	/* each token takes at least one byte, and one more for the end */
	out->tok = d4_arena_alloc(arena, (len + 2) * sizeof(*out->tok));
	if (!out->tok)
		return -ENOMEM;
	while (lx.pos < len) {
		c = peek(&lx, 0);
		if (c == ' ' || c == '\t' || c == '\r') {
			lx.pos++;
			continue;
		}
		if (c == '#') {
			while (lx.pos < len && src[lx.pos] != '\n')
				lx.pos++;
			continue;
		}
		if (c == '\n') {
			push(&lx, TK_NL, lx.pos, lx.pos + 1);
			lx.pos++;
			lx.line++;
			lx.line_start = lx.pos;
			continue;
		}
		if (is_name_start(c))
			ret = lex_name(&lx);
		else if (c >= '0' && c <= '9')
			ret = lex_number(&lx);
		else
			ret = lex_punct(&lx);
		if (ret)
			return ret;
	}
	push(&lx, TK_NL, len, len)->text = "\n";
	push(&lx, TK_EOF, len, len);
	return 0;
}
