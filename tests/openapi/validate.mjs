// validate.mjs - checks docs/openapi.json: a real OpenAPI 3.1 validator
// (@apidevtools/swagger-parser), then the examples of every component
// schema against that schema (Ajv, JSON Schema 2020-12), then that every
// route the server serves is documented.  Run through tests/openapi-validate.sh.
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020.js";
import { readFileSync } from "node:fs";

const file = process.argv[2] || "docs/openapi.json";
let failed = 0;
const fail = (msg) => { console.error("FAIL " + msg); failed++; };

const raw = JSON.parse(readFileSync(file, "utf8"));
if (raw.openapi !== "3.1.0") fail(`openapi is ${raw.openapi}, expected 3.1.0`);
try {
	await SwaggerParser.validate(structuredClone(raw));
	console.log(`ok ${file}: valid OpenAPI ${raw.openapi}`);
} catch (e) {
	fail(`${file}: ${e.message}`);
}

// Examples of component schemas must match their schemas.
const api = await SwaggerParser.dereference(structuredClone(raw));
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addKeyword("discriminator");
ajv.addFormat("date-time", true);
ajv.addFormat("uri", true);
let nex = 0;
for (const [name, schema] of Object.entries(api.components.schemas)) {
	for (const ex of schema.examples || []) {
		const v = ajv.compile(schema);
		nex++;
		if (!v(ex))
			fail(`example of ${name}: ${ajv.errorsText(v.errors)}`);
	}
}
for (const [p, item] of Object.entries(api.paths)) {
	for (const [m, op] of Object.entries(item)) {
		const c = op?.requestBody?.content?.["application/json"];
		for (const [k, ex] of Object.entries(c?.examples || {})) {
			const v = ajv.compile(c.schema);
			nex++;
			if (!v(ex.value))
				fail(`${m} ${p} example ${k}: ${ajv.errorsText(v.errors)}`);
		}
	}
}
console.log(`ok ${nex} examples match their schemas`);

// Every route of the server is documented.
const routes = [
	["post", "/v1/score"], ["get", "/v1/markets"],
	["get", "/v1/markets/{asset}"], ["put", "/v1/markets/{asset}"],
	["delete", "/v1/markets/{asset}"],
	["put", "/v1/markets/{asset}/depth/{venue}"],
	["delete", "/v1/markets/{asset}/depth/{venue}"],
	["put", "/v1/markets/{asset}/liquidations"],
	["post", "/v1/markets/{asset}/liquidations"],
	["get", "/v1/markets/{asset}/cascade"],
	["put", "/v1/correlations"], ["post", "/v1/correlations"],
	["get", "/healthz"], ["get", "/readyz"], ["get", "/version"],
	["get", "/openapi.json"], ["get", "/metrics"],
	["get", "/v1/markets/{asset}/cascade.svg"],
	["get", "/v1/markets/{asset}/liquidations.svg"],
	["get", "/v1/books/{book}/risk.svg"],
	["get", "/"], ["get", "/app.js"], ["get", "/app.css"],
	["get", "/favicon.svg"],
	["post", "/v1/books/{book}/simulate"],
];
for (const [m, p] of routes) {
	const op = raw.paths?.[p]?.[m];
	if (!op) { fail(`${m.toUpperCase()} ${p} is not documented`); continue; }
	if (!op.responses || Object.keys(op.responses).length === 0)
		fail(`${m.toUpperCase()} ${p} has no responses`);
	const write = m !== "get" && p !== "/v1/score" &&
	    !p.endsWith("/simulate");	/* stores nothing, like a score */
	const secured = Array.isArray(op.security) && op.security.length > 0;
	if (write !== secured)
		fail(`${m.toUpperCase()} ${p}: security should be ${write ? "bearerAuth" : "none"}`);
}
console.log(`ok ${routes.length} routes documented`);
console.log(failed ? `${failed} failed` : "openapi: all checks passed");
process.exit(failed ? 1 : 0);
