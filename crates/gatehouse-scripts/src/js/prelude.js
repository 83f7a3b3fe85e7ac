// The sandbox's JavaScript side, evaluated in every fresh context before a script runs.
//
// It gives scripts what Auth0's runtime gives them: `require` for the modules Auth0's
// published templates use (bcrypt, crypto, mysql, pg, request, axios, node-fetch), a
// Node-like `Buffer`, `console`, timers, the custom-database globals (`configuration`,
// `WrongUsernameOrPasswordError`, `ValidationError`, `UnauthorizedError`) and the
// harness that runs an Action's handler or a database script and answers in JSON.
//
// Everything that reaches outside the sandbox goes through the two functions the host
// installs as `__host`: `sync(op, json)` answers at once, `start(op, json)` returns an
// operation id whose answer later arrives through `__gh_complete`. Nothing else can
// reach the network or the file system: QuickJS itself has neither.
(function (host) {
  'use strict';

  // ---- the host ---------------------------------------------------------------------

  const pending = new Map();

  function call(op, arg) {
    const id = host.start(op, JSON.stringify(arg === undefined ? null : arg));
    return new Promise(function (resolve, reject) {
      pending.set(id, { resolve: resolve, reject: reject });
    });
  }

  function sync(op, arg) {
    return JSON.parse(host.sync(op, JSON.stringify(arg === undefined ? null : arg)));
  }

  Object.defineProperty(globalThis, '__gh_complete', {
    value: function (id, ok, payload) {
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      const v = JSON.parse(payload);
      if (ok) {
        p.resolve(v);
      } else {
        const e = new Error(v.message);
        if (v.code !== undefined) e.code = v.code;
        p.reject(e);
      }
    },
  });

  // A Node-style API: a callback gets (err, value); without one, a promise.
  function nodeify(promise, cb) {
    if (typeof cb !== 'function') return promise;
    promise.then(
      function (v) { cb(null, v); },
      function (e) { cb(e); }
    );
    return undefined;
  }

  // ---- bytes ------------------------------------------------------------------------

  const HEX = '0123456789abcdef';
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

  function utf8Encode(s) {
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return out;
  }

  function utf8Decode(b) {
    let s = '';
    for (let i = 0; i < b.length; ) {
      const c = b[i++];
      let cp;
      if (c < 0x80) cp = c;
      else if (c < 0xe0) cp = ((c & 31) << 6) | (b[i++] & 63);
      else if (c < 0xf0) cp = ((c & 15) << 12) | ((b[i++] & 63) << 6) | (b[i++] & 63);
      else cp = ((c & 7) << 18) | ((b[i++] & 63) << 12) | ((b[i++] & 63) << 6) | (b[i++] & 63);
      s += String.fromCodePoint(cp);
    }
    return s;
  }

  function b64Encode(b) {
    let s = '';
    for (let i = 0; i < b.length; i += 3) {
      const n = (b[i] << 16) | ((b[i + 1] || 0) << 8) | (b[i + 2] || 0);
      s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      s += i + 1 < b.length ? B64[(n >> 6) & 63] : '=';
      s += i + 2 < b.length ? B64[n & 63] : '=';
    }
    return s;
  }

  function b64Decode(s) {
    s = String(s).replace(/[^A-Za-z0-9+/\-_]/g, '');
    const out = [];
    let bits = 0;
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      let v = B64.indexOf(s[i]);
      if (s[i] === '-') v = 62;
      if (s[i] === '_') v = 63;
      n = (n << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((n >> bits) & 255);
      }
    }
    return out;
  }

  class Buffer extends Uint8Array {
    static from(value, encoding) {
      if (typeof value === 'string') {
        switch ((encoding || 'utf8').toLowerCase()) {
          case 'hex': {
            const out = new Buffer(value.length >> 1);
            for (let i = 0; i < out.length; i++) out[i] = parseInt(value.substr(i * 2, 2), 16);
            return out;
          }
          case 'base64':
          case 'base64url':
            return new Buffer(b64Decode(value));
          case 'binary':
          case 'latin1':
          case 'ascii': {
            const out = new Buffer(value.length);
            for (let i = 0; i < value.length; i++) out[i] = value.charCodeAt(i) & 255;
            return out;
          }
          case 'ucs2':
          case 'ucs-2':
          case 'utf16le':
          case 'utf-16le': {
            const out = new Buffer(value.length * 2);
            for (let i = 0; i < value.length; i++) {
              out[i * 2] = value.charCodeAt(i) & 255;
              out[i * 2 + 1] = value.charCodeAt(i) >> 8;
            }
            return out;
          }
          default:
            return new Buffer(utf8Encode(value));
        }
      }
      if (value instanceof ArrayBuffer) return new Buffer(new Uint8Array(value));
      return new Buffer(Array.from(value, function (x) { return x & 255; }));
    }
    static alloc(n, fill) {
      const b = new Buffer(n);
      if (fill !== undefined) b.fill(typeof fill === 'number' ? fill : Buffer.from(fill)[0]);
      return b;
    }
    static isBuffer(b) {
      return b instanceof Buffer;
    }
    static byteLength(s, encoding) {
      return Buffer.from(s, encoding).length;
    }
    static concat(list, total) {
      const n = total === undefined ? list.reduce(function (a, b) { return a + b.length; }, 0) : total;
      const out = new Buffer(n);
      let at = 0;
      for (const b of list) {
        out.set(b.subarray(0, Math.max(0, Math.min(b.length, n - at))), at);
        at += b.length;
        if (at >= n) break;
      }
      return out;
    }
    toString(encoding, start, end) {
      const b = this.subarray(start || 0, end === undefined ? this.length : end);
      switch ((encoding || 'utf8').toLowerCase()) {
        case 'hex': {
          let s = '';
          for (const x of b) s += HEX[x >> 4] + HEX[x & 15];
          return s;
        }
        case 'base64':
          return b64Encode(b);
        case 'base64url':
          return b64Encode(b).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        case 'binary':
        case 'latin1':
        case 'ascii': {
          let s = '';
          for (const x of b) s += String.fromCharCode(x);
          return s;
        }
        default:
          return utf8Decode(b);
      }
    }
    equals(other) {
      if (other.length !== this.length) return false;
      for (let i = 0; i < this.length; i++) if (this[i] !== other[i]) return false;
      return true;
    }
    toJSON() {
      return { type: 'Buffer', data: Array.from(this) };
    }
  }

  function bytes(v, encoding) {
    if (v instanceof Uint8Array) return Array.from(v);
    return Array.from(Buffer.from(String(v), encoding));
  }

  // ---- console and timers -----------------------------------------------------------

  function show(v) {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return v.stack ? String(v.stack) : v.name + ': ' + v.message;
    try {
      return JSON.stringify(v);
    } catch (e) {
      return String(v);
    }
  }

  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = function () {
      sync('log', { level: level, line: Array.prototype.map.call(arguments, show).join(' ') });
    };
  }

  let timerSeq = 0;
  const cancelled = new Set();
  function setTimeout(fn, ms) {
    const args = Array.prototype.slice.call(arguments, 2);
    const id = ++timerSeq;
    call('timer', { ms: Math.max(0, Number(ms) || 0) }).then(function () {
      if (!cancelled.delete(id)) fn.apply(null, args);
    });
    return id;
  }
  function clearTimeout(id) {
    cancelled.add(id);
  }
  function setImmediate(fn) {
    const args = Array.prototype.slice.call(arguments, 1);
    Promise.resolve().then(function () { fn.apply(null, args); });
  }

  // ---- errors of custom database scripts --------------------------------------------

  class WrongUsernameOrPasswordError extends Error {
    constructor(email, message) {
      super(message || 'Wrong email or password.');
      this.name = 'WrongUsernameOrPasswordError';
      this.email = email;
    }
  }
  class ValidationError extends Error {
    constructor(code, message) {
      super(message || code);
      this.name = 'ValidationError';
      this.code = code;
    }
  }
  class UnauthorizedError extends Error {
    constructor(message) {
      super(message || 'Unauthorized');
      this.name = 'UnauthorizedError';
    }
  }

  // ---- bcrypt -----------------------------------------------------------------------

  const bcrypt = {
    genSaltSync: function (rounds) {
      return sync('bcrypt.salt', { rounds: rounds === undefined ? 10 : rounds });
    },
    genSalt: function (rounds, cb) {
      if (typeof rounds === 'function') { cb = rounds; rounds = 10; }
      return nodeify(Promise.resolve().then(function () { return bcrypt.genSaltSync(rounds); }), cb);
    },
    hashSync: function (password, saltOrRounds) {
      const arg = typeof saltOrRounds === 'string' ? { salt: saltOrRounds } : { rounds: saltOrRounds === undefined ? 10 : saltOrRounds };
      arg.password = String(password);
      return sync('bcrypt.hash', arg);
    },
    hash: function (password, saltOrRounds, cb) {
      return nodeify(Promise.resolve().then(function () { return bcrypt.hashSync(password, saltOrRounds); }), cb);
    },
    compareSync: function (password, hash) {
      return sync('bcrypt.compare', { password: String(password), hash: String(hash) });
    },
    compare: function (password, hash, cb) {
      return nodeify(Promise.resolve().then(function () { return bcrypt.compareSync(password, hash); }), cb);
    },
    getRounds: function (hash) {
      return parseInt(String(hash).split('$')[2], 10);
    },
  };

  // ---- crypto -----------------------------------------------------------------------

  function digestObject(op, base) {
    const chunks = [];
    const self = {
      update: function (data, encoding) {
        chunks.push.apply(chunks, bytes(data, encoding));
        return self;
      },
      digest: function (encoding) {
        const arg = Object.assign({ data: chunks }, base);
        const out = Buffer.from(sync(op, arg));
        return encoding ? out.toString(encoding) : out;
      },
    };
    return self;
  }

  const crypto = {
    createHash: function (alg) {
      return digestObject('crypto.digest', { alg: String(alg) });
    },
    createHmac: function (alg, key) {
      return digestObject('crypto.hmac', { alg: String(alg), key: bytes(key) });
    },
    randomBytes: function (n, cb) {
      const out = Buffer.from(sync('crypto.random', { n: n }));
      if (typeof cb === 'function') {
        setImmediate(cb, null, out);
        return undefined;
      }
      return out;
    },
    randomUUID: function () {
      const b = crypto.randomBytes(16);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const h = b.toString('hex');
      return h.substr(0, 8) + '-' + h.substr(8, 4) + '-' + h.substr(12, 4) + '-' + h.substr(16, 4) + '-' + h.substr(20);
    },
    pbkdf2Sync: function (password, salt, iterations, keylen, digest) {
      return Buffer.from(sync('crypto.pbkdf2', {
        password: bytes(password), salt: bytes(salt), iterations: iterations, keylen: keylen, digest: digest || 'sha1',
      }));
    },
    pbkdf2: function (password, salt, iterations, keylen, digest, cb) {
      if (typeof digest === 'function') { cb = digest; digest = 'sha1'; }
      return nodeify(Promise.resolve().then(function () {
        return crypto.pbkdf2Sync(password, salt, iterations, keylen, digest);
      }), cb);
    },
    timingSafeEqual: function (a, b) {
      if (a.length !== b.length) throw new RangeError('Input buffers must have the same byte length');
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
      return diff === 0;
    },
  };

  // ---- mysql ------------------------------------------------------------------------

  function mysqlIdent(name) {
    return String(name).split('.').map(function (part) { return '`' + part.replace(/`/g, '``') + '`'; }).join('.');
  }

  // node-mysql's placeholders, bound instead of escaped: `?` takes a value (an array is
  // a list, an object `key = value` pairs), `??` an identifier.
  function mysqlFormat(sql, values) {
    if (values === undefined || values === null) return { sql: sql, params: [] };
    const list = Array.isArray(values) ? values : [values];
    const params = [];
    let at = 0;
    let out = '';
    let quote = null;
    for (let i = 0; i < sql.length; i++) {
      const c = sql[i];
      if (quote) {
        out += c;
        if (c === '\\') { out += sql[++i] || ''; continue; }
        if (c === quote) quote = null;
        continue;
      }
      if (c === "'" || c === '"' || c === '`') { quote = c; out += c; continue; }
      if (c !== '?') { out += c; continue; }
      if (sql[i + 1] === '?') {
        i++;
        const v = list[at++];
        out += Array.isArray(v) ? v.map(mysqlIdent).join(', ') : mysqlIdent(v);
        continue;
      }
      if (at >= list.length) { out += c; continue; }
      const v = list[at++];
      if (Array.isArray(v)) {
        out += v.map(function (x) {
          if (Array.isArray(x)) {
            x.forEach(function (y) { params.push(y); });
            return '(' + x.map(function () { return '?'; }).join(', ') + ')';
          }
          params.push(x);
          return '?';
        }).join(', ');
      } else if (v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
        out += Object.keys(v).filter(function (k) { return typeof v[k] !== 'function'; }).map(function (k) {
          params.push(v[k]);
          return mysqlIdent(k) + ' = ?';
        }).join(', ');
      } else {
        params.push(v);
        out += '?';
      }
    }
    return { sql: out, params: params };
  }

  function sqlParam(v) {
    if (v instanceof Date) return v.toISOString().replace('T', ' ').replace('Z', '');
    if (v instanceof Uint8Array) return Buffer.from(v).toString('binary');
    if (v === undefined) return null;
    if (v !== null && typeof v === 'object') return JSON.stringify(v);
    return v;
  }

  function mysqlConnection(config) {
    if (typeof config === 'string') config = { url: config };
    config = Object.assign({}, config);
    let ended = false;
    const conn = {
      config: config,
      state: 'disconnected',
      connect: function (cb) {
        conn.state = 'authenticated';
        return nodeify(call('mysql.ping', { config: config }), cb);
      },
      query: function (sql, values, cb) {
        if (typeof values === 'function') { cb = values; values = undefined; }
        if (sql !== null && typeof sql === 'object') {
          if (values === undefined) values = sql.values;
          sql = sql.sql;
        }
        if (ended) {
          const e = new Error('Cannot enqueue Query after invoking quit.');
          e.code = 'PROTOCOL_ENQUEUE_AFTER_QUIT';
          return nodeify(Promise.reject(e), cb && function (err) { cb(err); });
        }
        const f = mysqlFormat(String(sql), values);
        const p = call('mysql.query', { config: config, sql: f.sql, params: f.params.map(sqlParam) }).then(function (r) {
          if (r.rows) return r.rows;
          // node-mysql's OkPacket. `length` is the affected row count: Auth0's published
          // templates test `results.length > 0` after an UPDATE.
          return {
            fieldCount: 0,
            affectedRows: r.affectedRows,
            insertId: r.insertId,
            changedRows: r.affectedRows,
            length: r.affectedRows,
          };
        });
        if (typeof cb === 'function') {
          p.then(function (rows) { cb(null, rows, []); }, function (e) { cb(e); });
          return undefined;
        }
        return p;
      },
      execute: function (sql, values, cb) {
        return conn.query(sql, values, cb);
      },
      end: function (cb) {
        ended = true;
        if (typeof cb === 'function') setImmediate(cb, null);
      },
      destroy: function () {
        ended = true;
      },
      release: function () {},
      on: function () { return conn; },
      escape: function (v) {
        return "'" + String(v).replace(/[\0\n\r\b\t\\'"\x1a]/g, function (c) { return '\\' + c; }) + "'";
      },
      escapeId: mysqlIdent,
    };
    return conn;
  }

  const mysql = function (config) {
    return mysqlConnection(config);
  };
  mysql.createConnection = mysqlConnection;
  mysql.createPool = function (config) {
    const pool = mysqlConnection(config);
    pool.getConnection = function (cb) {
      const c = mysqlConnection(config);
      return nodeify(Promise.resolve(c), cb);
    };
    return pool;
  };
  mysql.escapeId = mysqlIdent;
  mysql.format = function (sql, values) {
    const f = mysqlFormat(sql, values);
    let i = 0;
    return f.sql.replace(/\?/g, function () { return mysqlConnection({}).escape(f.params[i++]); });
  };

  // ---- pg ---------------------------------------------------------------------------

  function pgQuery(config, text, values, cb) {
    if (typeof values === 'function') { cb = values; values = undefined; }
    if (text !== null && typeof text === 'object') {
      if (values === undefined) values = text.values;
      text = text.text;
    }
    const p = call('pg.query', { config: config, sql: String(text), params: (values || []).map(sqlParam) });
    return nodeify(p, cb);
  }

  function PgClient(config) {
    if (!(this instanceof PgClient)) return new PgClient(config);
    this.config = config;
  }
  PgClient.prototype.connect = function (cb) {
    return nodeify(call('pg.ping', { config: this.config }), cb && function (err) { cb(err); });
  };
  PgClient.prototype.query = function (text, values, cb) {
    return pgQuery(this.config, text, values, cb);
  };
  PgClient.prototype.end = function (cb) {
    return nodeify(Promise.resolve(), cb);
  };
  PgClient.prototype.release = function () {};
  PgClient.prototype.on = function () { return this; };

  function PgPool(config) {
    if (!(this instanceof PgPool)) return new PgPool(config);
    this.config = config;
  }
  PgPool.prototype.query = PgClient.prototype.query;
  PgPool.prototype.end = PgClient.prototype.end;
  PgPool.prototype.on = PgClient.prototype.on;
  PgPool.prototype.connect = function (cb) {
    const client = new PgClient(this.config);
    const p = client.connect().then(function () { return client; });
    if (typeof cb === 'function') {
      p.then(function (c) { cb(null, c, function () {}); }, function (e) { cb(e); });
      return undefined;
    }
    return p;
  };

  const pg = {
    Client: PgClient,
    Pool: PgPool,
    // The pg of Auth0's templates: connect(conString, function (err, client, done) {…}).
    connect: function (config, cb) {
      return PgPool.prototype.connect.call({ config: config }, cb);
    },
  };

  // ---- HTTP -------------------------------------------------------------------------

  function basicAuth(auth) {
    const user = auth.user !== undefined ? auth.user : auth.username;
    const pass = auth.pass !== undefined ? auth.pass : auth.password;
    return 'Basic ' + Buffer.from(user + ':' + (pass || '')).toString('base64');
  }

  function qs(params) {
    return Object.keys(params).map(function (k) {
      return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]);
    }).join('&');
  }

  function httpCall(method, url, headers, body) {
    return call('http', { method: method, url: String(url), headers: headers || {}, body: body === undefined ? null : body });
  }

  function lowerKeys(h) {
    const out = {};
    Object.keys(h || {}).forEach(function (k) { out[k.toLowerCase()] = h[k]; });
    return out;
  }

  // The `request` module: request(options, cb(err, response, body)), and its verbs.
  function request(options, cb) {
    if (typeof options === 'string') options = { url: options };
    const o = Object.assign({}, options);
    let url = o.url || o.uri;
    if (o.baseUrl) url = String(o.baseUrl).replace(/\/$/, '') + '/' + String(url).replace(/^\//, '');
    if (o.qs) url += (String(url).indexOf('?') >= 0 ? '&' : '?') + qs(o.qs);
    const headers = lowerKeys(o.headers);
    if (o.auth) {
      headers.authorization = o.auth.bearer ? 'Bearer ' + o.auth.bearer : basicAuth(o.auth);
    }
    let body = o.body;
    if (o.json !== undefined && o.json !== false) {
      headers.accept = headers.accept || 'application/json';
      if (o.json !== true) body = o.json;
      if (body !== undefined && typeof body !== 'string') {
        body = JSON.stringify(body);
        headers['content-type'] = headers['content-type'] || 'application/json';
      }
    }
    if (o.form) {
      body = typeof o.form === 'string' ? o.form : qs(o.form);
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const p = httpCall((o.method || 'GET').toUpperCase(), url, headers, body).then(function (r) {
      let parsed = r.body;
      if (o.json) {
        try { parsed = r.body === '' ? undefined : JSON.parse(r.body); } catch (e) { parsed = r.body; }
      }
      const response = { statusCode: r.status, statusMessage: r.statusText, headers: r.headers, body: parsed };
      return [response, parsed];
    });
    if (typeof cb === 'function') {
      p.then(function (r) { cb(null, r[0], r[1]); }, function (e) { cb(e); });
    }
    return undefined;
  }
  ['get', 'post', 'put', 'patch', 'del', 'delete', 'head'].forEach(function (verb) {
    request[verb] = function (options, cb) {
      if (typeof options === 'string') options = { url: options };
      const m = verb === 'del' ? 'DELETE' : verb.toUpperCase();
      return request(Object.assign({}, options, { method: m }), cb);
    };
  });
  request.defaults = function (defaults) {
    const r = function (options, cb) {
      if (typeof options === 'string') options = { url: options };
      return request(Object.assign({}, defaults, options), cb);
    };
    Object.keys(request).forEach(function (k) {
      r[k] = function (options, cb) {
        if (typeof options === 'string') options = { url: options };
        return request[k](Object.assign({}, defaults, options), cb);
      };
    });
    return r;
  };

  // axios: promises of { data, status, statusText, headers }; non-2xx rejects.
  function axiosRequest(config) {
    const c = Object.assign({ method: 'get' }, config);
    let url = c.url;
    if (c.baseURL && !/^https?:/i.test(url)) url = String(c.baseURL).replace(/\/$/, '') + '/' + String(url).replace(/^\//, '');
    if (c.params) url += (String(url).indexOf('?') >= 0 ? '&' : '?') + qs(c.params);
    const headers = lowerKeys(c.headers);
    if (c.auth) headers.authorization = basicAuth(c.auth);
    let body = c.data;
    if (body !== undefined && typeof body !== 'string') {
      if (body instanceof URLSearchParams) {
        body = body.toString();
        headers['content-type'] = headers['content-type'] || 'application/x-www-form-urlencoded';
      } else {
        body = JSON.stringify(body);
        headers['content-type'] = headers['content-type'] || 'application/json';
      }
    }
    headers.accept = headers.accept || 'application/json, text/plain, */*';
    return httpCall(String(c.method).toUpperCase(), url, headers, body).then(function (r) {
      let data = r.body;
      try { data = JSON.parse(r.body); } catch (e) { /* text */ }
      const response = { data: data, status: r.status, statusText: r.statusText, headers: r.headers, config: c };
      const ok = c.validateStatus ? c.validateStatus(r.status) : r.status >= 200 && r.status < 300;
      if (!ok) {
        const e = new Error('Request failed with status code ' + r.status);
        e.response = response;
        e.isAxiosError = true;
        throw e;
      }
      return response;
    });
  }
  const axios = function (urlOrConfig, config) {
    if (typeof urlOrConfig === 'string') return axiosRequest(Object.assign({}, config, { url: urlOrConfig }));
    return axiosRequest(urlOrConfig);
  };
  axios.request = axiosRequest;
  ['get', 'delete', 'head', 'options'].forEach(function (m) {
    axios[m] = function (url, config) { return axiosRequest(Object.assign({}, config, { url: url, method: m })); };
  });
  ['post', 'put', 'patch'].forEach(function (m) {
    axios[m] = function (url, data, config) {
      return axiosRequest(Object.assign({}, config, { url: url, method: m, data: data }));
    };
  });
  axios.create = function (defaults) {
    const inst = function (c) { return axiosRequest(Object.assign({}, defaults, c)); };
    Object.keys(axios).forEach(function (k) {
      inst[k] = axios[k];
    });
    inst.request = function (c) { return axiosRequest(Object.assign({}, defaults, c)); };
    return inst;
  };
  axios.default = axios;

  class URLSearchParams {
    constructor(init) {
      this.pairs = [];
      if (typeof init === 'string') {
        init.replace(/^\?/, '').split('&').filter(Boolean).forEach((kv) => {
          const i = kv.indexOf('=');
          const k = i < 0 ? kv : kv.slice(0, i);
          const v = i < 0 ? '' : kv.slice(i + 1);
          this.pairs.push([decodeURIComponent(k.replace(/\+/g, ' ')), decodeURIComponent(v.replace(/\+/g, ' '))]);
        });
      } else if (init) {
        Object.keys(init).forEach((k) => this.pairs.push([k, String(init[k])]));
      }
    }
    append(k, v) { this.pairs.push([String(k), String(v)]); }
    set(k, v) { this.delete(k); this.append(k, v); }
    get(k) { const p = this.pairs.find((x) => x[0] === k); return p ? p[1] : null; }
    has(k) { return this.pairs.some((x) => x[0] === k); }
    delete(k) { this.pairs = this.pairs.filter((x) => x[0] !== k); }
    toString() {
      return this.pairs.map((p) => encodeURIComponent(p[0]) + '=' + encodeURIComponent(p[1])).join('&');
    }
  }

  // fetch (and node-fetch): a Response with status, ok, headers.get, text() and json().
  function fetch(url, init) {
    const i = init || {};
    const headers = {};
    const h = i.headers || {};
    if (typeof h.forEach === 'function' && !Array.isArray(h)) h.forEach(function (v, k) { headers[k.toLowerCase()] = v; });
    else Object.keys(h).forEach(function (k) { headers[k.toLowerCase()] = h[k]; });
    let body = i.body;
    if (body instanceof URLSearchParams) {
      body = body.toString();
      headers['content-type'] = headers['content-type'] || 'application/x-www-form-urlencoded;charset=UTF-8';
    }
    return httpCall((i.method || 'GET').toUpperCase(), url, headers, body).then(function (r) {
      return {
        status: r.status,
        statusText: r.statusText,
        ok: r.status >= 200 && r.status < 300,
        url: String(url),
        headers: {
          get: function (k) { const v = r.headers[String(k).toLowerCase()]; return v === undefined ? null : v; },
          has: function (k) { return r.headers[String(k).toLowerCase()] !== undefined; },
        },
        text: function () { return Promise.resolve(r.body); },
        json: function () { return Promise.resolve().then(function () { return JSON.parse(r.body); }); },
      };
    });
  }

  // ---- require ----------------------------------------------------------------------

  const modules = {
    bcrypt: bcrypt,
    bcryptjs: bcrypt,
    crypto: crypto,
    mysql: mysql,
    mysql2: mysql,
    pg: pg,
    request: request,
    axios: axios,
    'node-fetch': fetch,
  };

  // `require('bcrypt@0.8.5')`, as Auth0's older templates write it, is `bcrypt`.
  function require(name) {
    const bare = String(name).replace(/^node:/, '').replace(/(.)@[^/]*$/, '$1');
    if (Object.prototype.hasOwnProperty.call(modules, bare)) return modules[bare];
    const e = new Error("Cannot find module '" + name + "': Gatehouse's sandbox provides " + Object.keys(modules).join(', '));
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }

  const globals = {
    require: require,
    console: console,
    Buffer: Buffer,
    URLSearchParams: URLSearchParams,
    fetch: fetch,
    setTimeout: setTimeout,
    clearTimeout: clearTimeout,
    setImmediate: setImmediate,
    WrongUsernameOrPasswordError: WrongUsernameOrPasswordError,
    ValidationError: ValidationError,
    UnauthorizedError: UnauthorizedError,
  };
  Object.keys(globals).forEach(function (k) {
    Object.defineProperty(globalThis, k, { value: globals[k], writable: true, configurable: true });
  });

  // ---- the harness ------------------------------------------------------------------

  function describe(e) {
    // QuickJS throws null when it cannot even allocate the error of an allocation that
    // failed.
    if (e === null) return { name: 'InternalError', message: 'out of memory' };
    if (e instanceof Error) {
      const out = { name: e.name || 'Error', message: String(e.message) };
      if (e.code !== undefined) out.code = String(e.code);
      return out;
    }
    if (typeof e === 'string') return { name: 'Error', message: e };
    return { name: 'Error', message: show(e) };
  }

  function clone(v) {
    return v === undefined ? null : JSON.parse(JSON.stringify(v));
  }

  // The `api` object of an Action: each call is recorded as a command Gatehouse carries
  // out once every bound action has run.
  function actionApi(trigger, commands) {
    const rec = function (name) {
      return function () {
        commands.push([name].concat(Array.prototype.slice.call(arguments).map(clone)));
        return api;
      };
    };
    const claims = function (target) {
      return { setCustomClaim: rec(target + '.setCustomClaim') };
    };
    const api = {};
    api.access = { deny: rec('access.deny') };
    if (trigger === 'post-login') {
      api.idToken = claims('idToken');
      api.accessToken = claims('accessToken');
      api.user = { setUserMetadata: rec('user.setUserMetadata'), setAppMetadata: rec('user.setAppMetadata') };
    } else if (trigger === 'pre-user-registration') {
      api.user = { setUserMetadata: rec('user.setUserMetadata'), setAppMetadata: rec('user.setAppMetadata') };
      api.validation = { error: rec('validation.error') };
    } else if (trigger === 'credentials-exchange') {
      api.accessToken = claims('accessToken');
    } else {
      delete api.access;
    }
    const store = new Map();
    api.cache = {
      get: function (k) { return store.has(k) ? { value: store.get(k) } : undefined; },
      set: function (k, v) { store.set(k, v); return { type: 'success' }; },
      delete: function (k) { store.delete(k); return { type: 'success' }; },
    };
    return api;
  }

  function freeze(o) {
    if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
      Object.freeze(o);
      Object.keys(o).forEach(function (k) { freeze(o[k]); });
    }
    return o;
  }

  async function runAction(job) {
    const module = { exports: {} };
    const body = new Function('exports', 'require', 'module', '__filename', '__dirname', job.code);
    body(module.exports, require, module, 'action.js', '/');
    const handler = module.exports[job.handler];
    if (typeof handler !== 'function') {
      throw new TypeError('the action exports no function ' + job.handler);
    }
    const commands = [];
    const event = job.event;
    event.secrets = job.secrets;
    await handler(freeze(event), actionApi(job.trigger, commands));
    return { commands: commands };
  }

  function runDbScript(job) {
    Object.defineProperty(globalThis, 'configuration', { value: freeze(job.configuration), configurable: true });
    const fn = (0, eval)('(' + job.source + '\n)');
    if (typeof fn !== 'function') throw new TypeError('the script is not a function');
    return new Promise(function (resolve, reject) {
      let called = false;
      const callback = function (err) {
        if (called) return;
        called = true;
        if (err) resolve({ error: describe(err) });
        else resolve({ args: Array.prototype.slice.call(arguments, 1).map(clone) });
      };
      try {
        fn.apply(null, job.args.concat([callback]));
      } catch (e) {
        reject(e);
      }
    });
  }

  Object.defineProperty(globalThis, '__gh_run', {
    value: function (jobJson) {
      const job = JSON.parse(jobJson);
      return Promise.resolve()
        .then(function () { return job.kind === 'action' ? runAction(job) : runDbScript(job); })
        .then(
          function (value) { return JSON.stringify({ ok: true, value: value }); },
          function (e) { return JSON.stringify({ ok: false, error: describe(e) }); }
        );
    },
  });
})(__host);
