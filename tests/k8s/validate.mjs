// tests/k8s/validate.mjs - validate the Kubernetes manifests in docker/k8s.
//
// Three layers, each counted as tests:
//  1. schema: every object is built with its kubernetes-models class
//     (generated from the Kubernetes OpenAPI schema) and validate()d:
//     types, required fields, enums, formats;
//  2. strict: the same objects as object literals type-checked by the
//     TypeScript compiler against the models' declarations, which rejects
//     unknown (e.g. misspelt) fields that the schema check lets through,
//     like `kubectl apply --validate=strict`;
//  3. policy: what this deployment promises (2 replicas, probes on
//     /readyz and /healthz, resources, non-root read-only hardening, the
//     database on an emptyDir, selectors that match, an autoscaling/v2 CPU
//     HPA, a PDB), cross-checked against docker/Dockerfile; and for the
//     message bus (objects labelled app.kubernetes.io/name: nats): a
//     3-node JetStream StatefulSet on persistent volumes behind a headless
//     Service, a quorum-keeping PDB, and cascaded pointed at its client
//     Service with as many stream replicas as nodes.
// Two negative tests show that layers 1 and 2 do reject bad input.
//
// usage: node tests/k8s/validate.mjs [DIR]   (default docker/k8s)
// Prints `N passed, N failed` last; exits 1 on any failure.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import ts from "typescript";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const dir = path.resolve(process.argv[2] ?? path.join(root, "docker/k8s"));
const rel = (p) => path.relative(root, p);

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
	if (ok) {
		passed++;
		console.log(`ok   - ${name}`);
	} else {
		failed++;
		console.log(`FAIL - ${name}${detail ? `: ${detail}` : ""}`);
	}
	return ok;
}

// ------------------------------------------------------------- parse
const files = fs.existsSync(dir)
	? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
	: [];
check(`${rel(dir)} holds manifests`, files.length > 0, "no *.yaml");
const docs = []; // { where, obj }
let kustomization = null;
for (const f of files) {
	const text = fs.readFileSync(path.join(dir, f), "utf8");
	const parsed = YAML.parseAllDocuments(text, { uniqueKeys: true });
	parsed.forEach((d, i) => {
		const where = `${f}#${i + 1}`;
		const errs = [...d.errors, ...d.warnings];
		if (!check(`${where}: YAML parses`, errs.length === 0,
			errs.map((e) => e.message).join("; ")))
			return;
		const obj = d.toJS();
		if (obj == null) return;
		if (obj.kind === "Kustomization") kustomization = { where, obj, f };
		else docs.push({ where, obj });
	});
}

// ------------------------------------------------------------- 1. schema
function modulePath(apiVersion) {
	// "v1" is the core group; "apps/v1" -> kubernetes-models/apps/v1
	return `kubernetes-models/${apiVersion}`;
}
const classes = new Map();
for (const d of docs) {
	const { apiVersion, kind } = d.obj;
	let cls = null;
	try {
		cls = (await import(modulePath(apiVersion)))[kind] ?? null;
	} catch {
		cls = null;
	}
	if (!check(`${d.where}: ${apiVersion} ${kind} is a known API kind`,
		typeof cls === "function"))
		continue;
	classes.set(d, cls);
	let err = null;
	try {
		new cls(d.obj).validate();
	} catch (e) {
		err = e.message;
	}
	check(`${d.where}: ${kind} ${d.obj.metadata?.name} is valid against the ${apiVersion} schema`,
		err === null, err);
}

// ------------------------------------------------------------- 2. strict
// Each object becomes `new Kind({...})` in a virtual TypeScript file under
// tests/k8s (so that node_modules resolves); excess-property checks on the
// literal find unknown fields at any depth.
function strictCheck(entries) {
	const lines = [];
	const owner = []; // line number -> entry index
	entries.forEach((e, i) => {
		const { apiVersion, kind, ...rest } = e.obj;
		lines.push(`import { ${kind} as M${i} } from "${modulePath(apiVersion)}";`);
		owner.push(-1);
	});
	entries.forEach((e, i) => {
		const { apiVersion, kind, ...rest } = e.obj;
		const body = JSON.stringify(rest, null, 2).split("\n");
		body[0] = `new M${i}(${body[0]}`;
		body[body.length - 1] += ");";
		for (const l of body) {
			lines.push(l);
			owner.push(i);
		}
	});
	const file = path.join(here, "__manifests__.ts");
	const src = lines.join("\n");
	const opts = {
		strict: true, noEmit: true, skipLibCheck: true, types: [],
		target: ts.ScriptTarget.ES2022,
		module: ts.ModuleKind.NodeNext,
		moduleResolution: ts.ModuleResolutionKind.NodeNext,
	};
	const host = ts.createCompilerHost(opts);
	const getSourceFile = host.getSourceFile.bind(host);
	const fileExists = host.fileExists.bind(host);
	const readFile = host.readFile.bind(host);
	host.getSourceFile = (fn, lang, ...r) => fn === file
		? ts.createSourceFile(fn, src, lang)
		: getSourceFile(fn, lang, ...r);
	host.fileExists = (fn) => fn === file || fileExists(fn);
	host.readFile = (fn) => fn === file ? src : readFile(fn);
	const program = ts.createProgram([file], opts, host);
	const problems = entries.map(() => []);
	const global = [];
	for (const dg of ts.getPreEmitDiagnostics(program)) {
		const msg = ts.flattenDiagnosticMessageText(dg.messageText, " ");
		if (dg.file && dg.file.fileName === file && dg.start !== undefined) {
			const { line } = dg.file.getLineAndCharacterOfPosition(dg.start);
			const i = owner[line] ?? -1;
			(i >= 0 ? problems[i] : global).push(msg);
		} else {
			global.push(msg);
		}
	}
	return { problems, global };
}
const typed = docs.filter((d) => classes.has(d));
if (typed.length > 0) {
	const { problems, global } = strictCheck(typed);
	check("strict type check compiles (models' declarations found)",
		global.length === 0, global.slice(0, 3).join("; "));
	typed.forEach((d, i) => check(
		`${d.where}: ${d.obj.kind} has no unknown or mistyped fields (strict)`,
		problems[i].length === 0, problems[i].slice(0, 3).join("; ")));
}

// Negative tests: the two checks above must reject a broken Deployment.
{
	const bad = {
		apiVersion: "apps/v1", kind: "Deployment",
		metadata: { name: "broken" },
		spec: {
			replicas: "two",
			selector: { matchLabels: { a: "b" } },
			template: {
				metadata: { labels: { a: "b" } },
				spec: { containers: [{ name: "c", image: "i" }] },
			},
		},
	};
	const { Deployment } = await import("kubernetes-models/apps/v1");
	let rejected = false;
	try {
		new Deployment(bad).validate();
	} catch {
		rejected = true;
	}
	check("self-test: the schema check rejects replicas: \"two\"", rejected);
	bad.spec.replicas = 2;
	bad.spec.template.spec.containers[0].securityContext = {
		readOnlyRootFilesytem: true,
	};
	const { problems } = strictCheck([{ obj: bad }]);
	check("self-test: the strict check rejects a misspelt field",
		problems[0].some((m) => m.includes("readOnlyRootFilesytem")),
		problems[0].join("; ") || "accepted");
}

// ------------------------------------------------------------- 3. policy
const appOf = (o) => o.metadata?.labels?.["app.kubernetes.io/name"];
const byKind = (k, app = "cascaded") => docs
	.filter((d) => d.obj.kind === k && appOf(d.obj) === app)
	.map((d) => d.obj);
const dockerfile = fs.readFileSync(path.join(root, "docker/Dockerfile"), "utf8");
const dfUser = Number((dockerfile.match(/^USER\s+(\d+)/m) ?? [])[1]);
const dfPort = Number((dockerfile.match(/^EXPOSE\s+(\d+)/m) ?? [])[1]);
const dfVolume = (dockerfile.match(/^VOLUME\s+\[?"?([^"\]\s]+)/m) ?? [])[1];

function quantity(q) { // "250m" -> 0.25, "64Mi" -> 67108864
	if (q === undefined) return NaN;
	const m = String(q).match(/^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/);
	if (!m) return NaN;
	const f = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
		k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2]] ?? 1;
	return Number(m[1]) * f;
}
const matches = (sel, labels) => sel && labels &&
	Object.keys(sel).length > 0 &&
	Object.entries(sel).every(([k, v]) => labels[k] === v);

const deps = byKind("Deployment");
check("one Deployment", deps.length === 1, `${deps.length}`);
const dep = deps[0];
if (dep) {
	const name = dep.metadata.name;
	const pod = dep.spec.template.spec;
	const podLabels = dep.spec.template.metadata?.labels;
	const c = pod.containers[0] ?? {};
	const ports = c.ports ?? [];
	const portOk = (p) => ports.some((cp) => cp.name === p || cp.containerPort === p);
	const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
	const sc = c.securityContext ?? {};
	const psc = pod.securityContext ?? {};
	const res = c.resources ?? {};
	const mounts = c.volumeMounts ?? [];
	const vols = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));

	check("Deployment: 2 replicas", dep.spec.replicas === 2, `${dep.spec.replicas}`);
	check("Deployment: selector matches the pod labels",
		matches(dep.spec.selector.matchLabels, podLabels));
	check("Deployment: one container", pod.containers.length === 1);
	check(`container port ${dfPort} (Dockerfile EXPOSE) is declared`,
		ports.some((p) => p.containerPort === dfPort));
	check("CASCADED_LISTEN, when set, listens on 0.0.0.0 and that port",
		!env.CASCADED_LISTEN || env.CASCADED_LISTEN.value === `0.0.0.0:${dfPort}`,
		env.CASCADED_LISTEN?.value);
	check("readinessProbe: GET /readyz on a declared port",
		c.readinessProbe?.httpGet?.path === "/readyz" &&
		portOk(c.readinessProbe.httpGet.port));
	check("livenessProbe: GET /healthz on a declared port",
		c.livenessProbe?.httpGet?.path === "/healthz" &&
		portOk(c.livenessProbe.httpGet.port));
	for (const k of ["cpu", "memory"]) {
		const rq = quantity(res.requests?.[k]);
		const lm = quantity(res.limits?.[k]);
		check(`resources: ${k} request and limit set, request <= limit`,
			rq > 0 && lm > 0 && rq <= lm,
			`${res.requests?.[k]} / ${res.limits?.[k]}`);
	}
	check("pod: runAsNonRoot", psc.runAsNonRoot === true || sc.runAsNonRoot === true);
	check(`pod: runAsUser ${dfUser} (the Dockerfile USER)`,
		(sc.runAsUser ?? psc.runAsUser) === dfUser,
		`${sc.runAsUser ?? psc.runAsUser}`);
	check("pod: fsGroup makes the emptyDir writable for that user",
		psc.fsGroup === (sc.runAsGroup ?? psc.runAsGroup ?? dfUser));
	check("container: readOnlyRootFilesystem", sc.readOnlyRootFilesystem === true);
	check("container: allowPrivilegeEscalation false",
		sc.allowPrivilegeEscalation === false);
	check("container: capabilities drop ALL",
		(sc.capabilities?.drop ?? []).includes("ALL"));
	check("container: not privileged", sc.privileged !== true);
	check("every volumeMount names a declared volume",
		mounts.every((m) => vols[m.name]),
		mounts.filter((m) => !vols[m.name]).map((m) => m.name).join(","));
	const dataMount = mounts.find((m) => m.mountPath === dfVolume);
	check(`the database directory ${dfVolume} is an emptyDir`,
		dataMount && vols[dataMount.name]?.emptyDir !== undefined &&
		!dataMount.readOnly);
	check("CASCADED_DB, when set, lies on that volume",
		!env.CASCADED_DB || env.CASCADED_DB.value?.startsWith(`${dfVolume}/`));
	check("/tmp is a writable volume (the root file system is read-only)",
		mounts.some((m) => m.mountPath === "/tmp" && !m.readOnly));
	check("the API key comes from a Secret, not a literal",
		!env.CASCADED_API_KEY || (env.CASCADED_API_KEY.valueFrom?.secretKeyRef &&
			env.CASCADED_API_KEY.value === undefined));

	const svcs = byKind("Service");
	check("a Service", svcs.length > 0);
	for (const s of svcs) {
		check(`Service ${s.metadata.name}: selector matches the pod labels`,
			matches(s.spec.selector, podLabels));
		check(`Service ${s.metadata.name}: every targetPort is a container port`,
			s.spec.ports.every((p) => portOk(p.targetPort ?? p.port)));
	}

	const hpas = byKind("HorizontalPodAutoscaler");
	check("one HorizontalPodAutoscaler", hpas.length === 1);
	for (const h of hpas) {
		const t = h.spec.scaleTargetRef;
		check("HPA: autoscaling/v2",
			docs.find((d) => d.obj === h).obj.apiVersion === "autoscaling/v2");
		check("HPA: targets the Deployment",
			t.kind === "Deployment" && t.name === name && t.apiVersion === "apps/v1");
		check("HPA: scales on CPU utilisation",
			(h.spec.metrics ?? []).some((m) => m.type === "Resource" &&
				m.resource?.name === "cpu" &&
				m.resource?.target?.type === "Utilization" &&
				m.resource.target.averageUtilization > 0));
		check("HPA: minReplicas >= 2 and <= maxReplicas",
			(h.spec.minReplicas ?? 1) >= 2 &&
			h.spec.minReplicas <= h.spec.maxReplicas);
	}

	const pdbs = byKind("PodDisruptionBudget");
	check("one PodDisruptionBudget", pdbs.length === 1);
	for (const p of pdbs) {
		check("PDB: selector matches the pod labels",
			matches(p.spec.selector?.matchLabels, podLabels));
		check("PDB: minAvailable leaves room to evict one pod",
			typeof p.spec.minAvailable === "number" &&
			p.spec.minAvailable >= 1 && p.spec.minAvailable < dep.spec.replicas);
	}
}

// ------------------------------------------------------------- the bus
{
	const sts = byKind("StatefulSet", "nats");
	check("one NATS StatefulSet", sts.length === 1, `${sts.length}`);
	const ss = sts[0];
	if (ss) {
		const pod = ss.spec.template.spec;
		const podLabels = ss.spec.template.metadata?.labels;
		const c = pod.containers[0] ?? {};
		const ports = c.ports ?? [];
		const portOf = (p) => ports.find((cp) => cp.name === p || cp.containerPort === p);
		const svcs = byKind("Service", "nats");
		const headless = svcs.find((s) => s.metadata.name === ss.spec.serviceName);
		const mounts = c.volumeMounts ?? [];
		const claims = (ss.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name);
		const cms = byKind("ConfigMap", "nats");
		const conf = cms.map((m) => Object.values(m.data ?? {}).join("\n")).join("\n");
		const store = (conf.match(/store_dir:\s*"?([^\s"]+)/) ?? [])[1];
		check("NATS: 3 replicas (a JetStream quorum survives one loss)",
			ss.spec.replicas === 3, `${ss.spec.replicas}`);
		check("NATS: selector matches the pod labels",
			matches(ss.spec.selector.matchLabels, podLabels));
		check("NATS: serviceName is a headless Service selecting its pods",
			headless && headless.spec.clusterIP === "None" &&
			matches(headless.spec.selector, podLabels));
		check("NATS: the configuration enables JetStream with a store_dir",
			/jetstream\s*\{/.test(conf) && store !== undefined);
		check("NATS: the JetStream store is on a volumeClaimTemplate",
			mounts.some((m) => claims.includes(m.name) && m.mountPath === store),
			`store ${store}, claims ${claims}`);
		check("NATS: cluster routes name every pod of the StatefulSet",
			[...Array(ss.spec.replicas).keys()].every((i) =>
				conf.includes(`${ss.metadata.name}-${i}.${ss.spec.serviceName}:`)));
		check("NATS: readiness and liveness probes on the monitoring port",
			c.readinessProbe?.httpGet && c.livenessProbe?.httpGet &&
			portOf(c.readinessProbe.httpGet.port) !== undefined);
		check("NATS: non-root, read-only root file system",
			(pod.securityContext?.runAsNonRoot || c.securityContext?.runAsNonRoot) === true &&
			c.securityContext?.readOnlyRootFilesystem === true);
		const pdb = byKind("PodDisruptionBudget", "nats");
		check("NATS: a PDB that keeps the quorum (maxUnavailable 1)",
			pdb.length === 1 && pdb[0].spec.maxUnavailable === 1 &&
			matches(pdb[0].spec.selector?.matchLabels, podLabels));
		// cascaded -> the bus
		const dc = dep?.spec.template.spec.containers[0] ?? {};
		const env = Object.fromEntries((dc.env ?? []).map((e) => [e.name, e.value]));
		const m = (env.CASCADED_BUS ?? "").match(/^nats:\/\/([^:/,]+):(\d+)$/);
		const client = m && svcs.find((s) => s.metadata.name === m[1]);
		check("cascaded: CASCADED_BUS names the NATS client Service and port",
			client && matches(client.spec.selector, podLabels) &&
			client.spec.ports.some((p) => p.port === Number(m[2]) &&
				portOf(p.targetPort ?? p.port) !== undefined),
			env.CASCADED_BUS);
		check("cascaded: CASCADED_BUS_REPLICAS equals the NATS replicas",
			Number(env.CASCADED_BUS_REPLICAS) === ss.spec.replicas,
			env.CASCADED_BUS_REPLICAS);
		check("cascaded: no headless Service fans writes out to the pods",
			byKind("Service").every((s) => s.spec.clusterIP !== "None"));
	}
}

if (kustomization) {
	const listed = kustomization.obj.resources ?? [];
	const others = files.filter((f) => f !== kustomization.f);
	check(`${kustomization.where}: lists exactly the other manifests`,
		listed.length === others.length &&
		listed.every((r) => others.includes(r)),
		`listed ${listed.join(",")}; present ${others.join(",")}`);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
