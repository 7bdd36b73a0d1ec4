// openapi.json against the OpenAPI 3.0 JSON Schema, with every $ref resolved (swagger-parser).
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2] ?? new URL("../openapi.json", import.meta.url).pathname;
try {
  const api = await SwaggerParser.validate(file);
  console.log(`swagger-parser: ${api.info.title} ${api.info.version} (OpenAPI ${api.openapi}) is valid`);
} catch (e) {
  console.error(`swagger-parser: ${e.message}`);
  process.exit(1);
}
