# web/web.mk - compile the page's files (web/index.html, app.js, app.css, favicon.svg)
# into the binary for GET /, /app.js and /app.css
# (service/handlers_page.c references embed_web weakly).  Included at the
# end of the Makefile:  -include web/web.mk
# Same technique as tools/embed.sh (POSIX sh, od, awk); each array gets a
# trailing NUL not counted in its length.  No build step at run time.

WEB_FILES := web/index.html web/app.js web/app.css web/favicon.svg
WEB_OBJ := $(BUILD)/gen/web.o

$(BUILD)/gen/web.c: $(WEB_FILES) web/web.mk
	@mkdir -p $(dir $@)
	@{ printf '/* Generated from web/ by web/web.mk: do not edit. */\n'; \
	printf '#include "embed.h"\n\n'; \
	printf 'extern const struct embed_file embed_web[];\n'; \
	n=0; for f in $(WEB_FILES); do n=$$((n + 1)); \
		printf 'static const unsigned char web_%s[] = {\n' $$n; \
		od -An -v -tu1 $$f | \
			awk '{ for (i = 1; i <= NF; i++) printf "%s,", $$i; printf "\n" }'; \
		printf '0 };\n'; done; \
	printf 'const struct embed_file embed_web[] = {\n'; \
	n=0; for f in $(WEB_FILES); do n=$$((n + 1)); \
		printf '\t{ "%s", 0, web_%s, sizeof(web_%s) - 1 },\n' \
			"$$(basename $$f)" $$n $$n; done; \
	printf '\t{ 0, 0, 0, 0 }\n};\n'; } > $@.tmp
	@mv $@.tmp $@

$(WEB_OBJ): $(BUILD)/gen/web.c
	$(CC) $(CFLAGS_ALL) -Iservice -c $< -o $@

# Linked as an object (not through libsvc.a): a weak reference does not
# pull a member out of an archive.
$(BIN): $(WEB_OBJ)

# The README's picture: the seed's ETH liquidation map as a PNG.
.PHONY: readme-chart
readme-chart: $(BIN)
	sh tools/readme-chart.sh $(BIN) ETH docs/img/liquidations-eth
