// A webhook receiver as SMTP2GO users write them: express with express.urlencoded() and express.json().
// Usage: node express_receiver.js <folder holding node_modules>
// Prints {"port": n} once listening, then one JSON line per POST /hook: {"headers": …, "body": req.body}.
const path = require("path");
const express = require(path.join(process.argv[2], "node_modules", "express"));

const app = express();
app.use(express.urlencoded({ extended: true }));
app.use(express.json());
app.post("/hook", (req, res) => {
  process.stdout.write(JSON.stringify({ headers: req.headers, body: req.body }) + "\n");
  res.status(200).send("ok");
});
const server = app.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
