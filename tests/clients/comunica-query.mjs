// One SPARQL query with Comunica (@comunica/query-sparql) against one SPARQL endpoint.
//
//   node tests/clients/comunica-query.mjs SOURCE QUERY
//
// SOURCE is written as on Comunica's command line: `sparql@URL` names a SPARQL endpoint, and
// Comunica sends it the query; a bare `URL` lets Comunica find out what the URL is, by reading the
// SPARQL Service Description it serves.
//
// The result goes to stdout as one JSON document:
//   SELECT     {"resultType": "bindings", "head": {"vars": [...]}, "results": {"bindings": [...]}}
//   ASK        {"resultType": "boolean", "head": {}, "boolean": true}
//   CONSTRUCT  {"resultType": "quads", "quads": [{"subject": T, "predicate": T, "object": T}, ...]}
// where every term T is written as in SPARQL 1.1 Query Results JSON ({"type": "uri", "value": ...}).
// Comunica's warnings go to stderr. On an error: its message on stderr and exit status 1; a wrong
// command line exits with 2.

import { QueryEngine } from '@comunica/query-sparql';

const HTTP_TIMEOUT_MS = 10000;
const XSD_STRING = 'http://www.w3.org/2001/XMLSchema#string';

// Comunica's Logger interface: warnings and worse go to stderr, one line each; the rest is dropped.
const stderrLogger = Object.fromEntries(
  ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level, rank) => [
    level,
    rank < 3
      ? () => {}
      : (message, data) => {
          const context = data && data.actor ? ` (${data.actor})` : '';
          process.stderr.write(`${level.toUpperCase()}: ${message}${context}\n`);
        },
  ]),
);

function source(text) {
  const typed = /^([a-z]+)@(.+)$/.exec(text);
  return typed ? { type: typed[1], value: typed[2] } : text;
}

function language(literal) {
  if (literal.language) {
    return literal.language;
  }
  // Comunica 4.5 builds terms with rdf-data-factory 1.x, whose literal(value, languageOrDatatype)
  // predates RDF 1.2's literal(value, {language, direction}). sparqljson-parse 3.3 uses the new
  // form for "xml:lang" in SPARQL JSON results, so the literal arrives with language "" and that
  // object as its datatype. Read the language from there; any other literal is left as it is.
  const datatype = literal.datatype;
  if (datatype && datatype.termType === undefined && typeof datatype.language === 'string') {
    return datatype.language;
  }
  return '';
}

function term(value) {
  switch (value.termType) {
    case 'NamedNode':
      return { type: 'uri', value: value.value };
    case 'BlankNode':
      return { type: 'bnode', value: value.value };
    case 'Literal': {
      const tag = language(value);
      if (tag) {
        return { type: 'literal', value: value.value, 'xml:lang': tag };
      }
      if (value.datatype.value === XSD_STRING) {
        return { type: 'literal', value: value.value }; // a simple literal, as SPARQL JSON writes it
      }
      return { type: 'literal', value: value.value, datatype: value.datatype.value };
    }
    default:
      throw new Error(`cannot write a ${value.termType} term as JSON`);
  }
}

async function answer(engine, sourceText, query) {
  const context = {
    sources: [source(sourceText)],
    httpTimeout: HTTP_TIMEOUT_MS,
    log: stderrLogger,
  };
  const result = await engine.query(query, context);
  switch (result.resultType) {
    case 'bindings': {
      const metadata = await result.metadata();
      const vars = metadata.variables.map((variable) => variable.value);
      const rows = (await (await result.execute()).toArray()).map((bindings) => {
        const row = {};
        for (const [variable, value] of bindings) {
          row[variable.value] = term(value);
        }
        return row;
      });
      return { resultType: 'bindings', head: { vars }, results: { bindings: rows } };
    }
    case 'boolean':
      return { resultType: 'boolean', head: {}, boolean: await result.execute() };
    case 'quads': {
      const quads = (await (await result.execute()).toArray()).map((quad) => {
        const written = {
          subject: term(quad.subject),
          predicate: term(quad.predicate),
          object: term(quad.object),
        };
        if (quad.graph.termType !== 'DefaultGraph') {
          written.graph = term(quad.graph);
        }
        return written;
      });
      return { resultType: 'quads', quads };
    }
    default:
      throw new Error(`unexpected result type ${result.resultType}`);
  }
}

async function main(args) {
  if (args.length !== 2) {
    process.stderr.write('usage: node comunica-query.mjs SOURCE QUERY\n');
    return 2;
  }
  const [sourceText, query] = args;
  try {
    const output = await answer(new QueryEngine(), sourceText, query);
    await new Promise((resolve) => process.stdout.write(`${JSON.stringify(output)}\n`, resolve));
    return 0;
  } catch (error) {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    return 1;
  }
}

// Exit explicitly: open keep-alive connections would otherwise hold the process for a while.
process.exit(await main(process.argv.slice(2)));
