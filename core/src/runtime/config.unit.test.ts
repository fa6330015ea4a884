import { createPrivateKey } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Type, type TProperties } from '@sinclair/typebox';
import {
  ConfigError,
  configFields,
  configVariables,
  isSecret,
  kafkaConnectionFields,
  loadConfig,
  registryConnectionFields,
  secret,
} from './config';
import { createTestCertificates } from '../../../scripts/src/infra/certificates';

const baseFields = {
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: configFields.LOG_LEVEL,
  KAFKA_BROKERS: configFields.KAFKA_BROKERS,
};

describe('loadConfig', () => {
  it('gives the documented defaults when nothing is set', () => {
    expect(loadConfig(baseFields, {})).toEqual({
      PORT: 3000,
      LOG_LEVEL: 'info',
      KAFKA_BROKERS: '127.0.0.1:9092',
    });
  });

  it('coerces values from strings', () => {
    expect(loadConfig(baseFields, { PORT: '8080' }).PORT).toBe(8080);
  });

  it('refuses a wrong value with a message that names the variable and the value', () => {
    expect(() => loadConfig(baseFields, { PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig(baseFields, { PORT: 'eighty' })).toThrow(
      /PORT must be integer \(got "eighty"\)/,
    );
  });

  it('names every wrong variable at once', () => {
    expect(() => loadConfig(baseFields, { PORT: '70000', LOG_LEVEL: 'loud' })).toThrow(
      /PORT.*LOG_LEVEL|LOG_LEVEL.*PORT/,
    );
  });
});

describe('loadConfig with secrets and connection settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'catchall-config-'));
    const certificates = await createTestCertificates(path.join(dir, 'certificates'));
    copyFileSync(certificates.caFile, path.join(dir, 'ca.pem'));
    copyFileSync(certificates.clientCertFile, path.join(dir, 'cert.pem'));
    copyFileSync(certificates.clientKeyFile, path.join(dir, 'key.pem'));
    // Another certificate's key, and the client key encrypted with `key-pass`.
    copyFileSync(certificates.untrustedClientKeyFile, path.join(dir, 'other-key.pem'));
    writeFileSync(
      path.join(dir, 'encrypted-key.pem'),
      createPrivateKey(readFileSync(certificates.clientKeyFile)).export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'key-pass',
      }),
    );
    writeFileSync(path.join(dir, 'empty'), '\n');
    writeFileSync(path.join(dir, 'commas'), ' , \n');
    writeFileSync(path.join(dir, 'password'), 's3cret-from-file\n');
    writeFileSync(path.join(dir, 'token.jwt'), 'eyJ.token.sig\n');
    writeFileSync(path.join(dir, 'not-pem.txt'), 'hello');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => path.join(dir, name);
  const kafka = { ...kafkaConnectionFields };
  const registry = { ...registryConnectionFields };
  const refusal = (fields: TProperties, env: Record<string, string>): string => {
    try {
      loadConfig(fields, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('loadConfig accepted the configuration');
  };

  it('marks the passwords, tokens and DATABASE_URL as secret, and not the file names', () => {
    const secrets = Object.entries(configFields)
      .filter(([, schema]) => isSecret(schema))
      .map(([name]) => name);
    expect(secrets.sort()).toEqual([
      'DATABASE_URL',
      'KAFKA_SASL_PASSWORD',
      'KAFKA_SSL_KEY_PASSWORD',
      'SCHEMA_REGISTRY_PASSWORD',
      'SCHEMA_REGISTRY_TOKEN',
    ]);
  });

  it('lists <NAME>_FILE beside each secret among the variables a program reads', () => {
    expect(configVariables(registryConnectionFields)).toEqual([
      'SCHEMA_REGISTRY_URL',
      'SCHEMA_REGISTRY_USERNAME',
      'SCHEMA_REGISTRY_PASSWORD',
      'SCHEMA_REGISTRY_PASSWORD_FILE',
      'SCHEMA_REGISTRY_TOKEN',
      'SCHEMA_REGISTRY_TOKEN_FILE',
      'SCHEMA_REGISTRY_CA_FILE',
    ]);
  });

  it('gives PLAINTEXT with no SASL when nothing is set', () => {
    expect(loadConfig(kafka, {})).toMatchObject({
      KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT',
      KAFKA_SASL_MECHANISM: '',
    });
  });

  it('reads a secret from <NAME>_FILE without its trailing newline', () => {
    const config = loadConfig(kafka, {
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD_FILE: file('password'),
    });
    expect(config.KAFKA_SASL_PASSWORD).toBe('s3cret-from-file');
  });

  it('takes an empty <NAME>_FILE for unset', () => {
    expect(
      loadConfig(registry, { SCHEMA_REGISTRY_TOKEN: 'direct', SCHEMA_REGISTRY_TOKEN_FILE: '' })
        .SCHEMA_REGISTRY_TOKEN,
    ).toBe('direct');
  });

  it('refuses a secret set both directly and as a file, naming both', () => {
    const message = refusal(registry, {
      SCHEMA_REGISTRY_TOKEN: 'direct-token',
      SCHEMA_REGISTRY_TOKEN_FILE: file('password'),
    });
    expect(message).toContain('set SCHEMA_REGISTRY_TOKEN or SCHEMA_REGISTRY_TOKEN_FILE, not both');
    expect(message).not.toContain('direct-token');
  });

  it('refuses an unreadable <NAME>_FILE, naming the variable', () => {
    expect(refusal(registry, { SCHEMA_REGISTRY_PASSWORD_FILE: file('missing') })).toMatch(
      /SCHEMA_REGISTRY_PASSWORD_FILE cannot be read \(ENOENT\)/,
    );
  });

  it('never repeats the value of a secret that fails validation', () => {
    const fields = { PIN: secret(Type.Integer({ default: 0 })), PORT: baseFields.PORT };
    const message = refusal(fields, { PIN: 'hunter2-not-a-number', PORT: 'eighty' });
    expect(message).toMatch(/PIN must be integer/);
    expect(message).not.toContain('hunter2');
    expect(message).toContain('(got "eighty")');
  });

  it('names the values a variable of a fixed set takes, once', () => {
    expect(refusal(kafka, { KAFKA_SECURITY_PROTOCOL: 'TLS' })).toBe(
      'Invalid configuration: KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL (got "TLS")',
    );
  });

  it('refuses a SASL protocol without a mechanism', () => {
    expect(refusal(kafka, { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' })).toContain(
      'KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM',
    );
  });

  it('refuses a mechanism with a protocol that is not SASL', () => {
    expect(
      refusal(kafka, {
        KAFKA_SECURITY_PROTOCOL: 'SSL',
        KAFKA_SASL_MECHANISM: 'PLAIN',
        KAFKA_SASL_USERNAME: 'a',
        KAFKA_SASL_PASSWORD: 'b',
      }),
    ).toContain('KAFKA_SASL_MECHANISM=PLAIN needs KAFKA_SECURITY_PROTOCOL=SASL_SSL');
  });

  it('refuses PLAIN or SCRAM without a user name and password', () => {
    const message = refusal(kafka, {
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
      KAFKA_SASL_USERNAME: 'alice',
    });
    expect(message).toContain('needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
  });

  it('refuses OAUTHBEARER without a token file, and with one that does not exist', () => {
    const base = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'OAUTHBEARER' };
    expect(refusal(kafka, base)).toContain('needs KAFKA_SASL_OAUTHBEARER_TOKEN_FILE');
    expect(
      refusal(kafka, { ...base, KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: file('no-token') }),
    ).toMatch(/KAFKA_SASL_OAUTHBEARER_TOKEN_FILE cannot be read \(ENOENT\)/);
    expect(() =>
      loadConfig(kafka, { ...base, KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: file('token.jwt') }),
    ).not.toThrow();
  });

  it('refuses a client certificate without its key', () => {
    expect(
      refusal(kafka, { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: file('cert.pem') }),
    ).toContain('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together');
  });

  it('refuses TLS files with a protocol without TLS', () => {
    expect(refusal(kafka, { KAFKA_SSL_CA_FILE: file('ca.pem') })).toContain(
      'KAFKA_SSL_CA_FILE needs KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL (it is PLAINTEXT)',
    );
  });

  it('refuses CA, certificate and key files that are missing or hold no PEM', () => {
    const message = refusal(kafka, {
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CA_FILE: file('nothing.pem'),
      KAFKA_SSL_CERT_FILE: file('not-pem.txt'),
      KAFKA_SSL_KEY_FILE: file('key.pem'),
    });
    expect(message).toMatch(/KAFKA_SSL_CA_FILE cannot be read \(ENOENT\)/);
    expect(message).toMatch(/KAFKA_SSL_CERT_FILE holds no PEM block/);
    expect(message).not.toMatch(/KAFKA_SSL_KEY_FILE/);
  });

  it('accepts mutual TLS with a CA, a certificate and its key', () => {
    expect(
      loadConfig(kafka, {
        KAFKA_SECURITY_PROTOCOL: 'SSL',
        KAFKA_SSL_CA_FILE: file('ca.pem'),
        KAFKA_SSL_CERT_FILE: file('cert.pem'),
        KAFKA_SSL_KEY_FILE: file('key.pem'),
      }).KAFKA_SSL_CA_FILE,
    ).toBe(file('ca.pem'));
  });

  it('refuses registry basic authentication together with a token, without echoing either', () => {
    const message = refusal(registry, {
      SCHEMA_REGISTRY_USERNAME: 'bob',
      SCHEMA_REGISTRY_PASSWORD: 'pa55word',
      SCHEMA_REGISTRY_TOKEN: 'tok3n',
    });
    expect(message).toContain('SCHEMA_REGISTRY_TOKEN and SCHEMA_REGISTRY_USERNAME');
    expect(message).not.toMatch(/pa55word|tok3n/);
  });

  it('refuses credentials in SCHEMA_REGISTRY_URL, without echoing them', () => {
    const message = refusal(registry, {
      SCHEMA_REGISTRY_URL: 'https://bob:url-pa55@registry.example/apis/ccompat/v7',
    });
    expect(message).toContain('SCHEMA_REGISTRY_URL holds credentials');
    expect(message).not.toContain('url-pa55');
  });

  it('refuses a registry user without a password', () => {
    expect(refusal(registry, { SCHEMA_REGISTRY_USERNAME: 'bob' })).toContain(
      'SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together',
    );
  });

  it('refuses a missing registry CA file', () => {
    expect(refusal(registry, { SCHEMA_REGISTRY_CA_FILE: file('gone.pem') })).toMatch(
      /SCHEMA_REGISTRY_CA_FILE cannot be read \(ENOENT\)/,
    );
  });

  it("refuses a DATABASE_URL whose sslrootcert is missing, without the URL's password", () => {
    const fields = { DATABASE_URL: configFields.DATABASE_URL };
    const url = `postgres://app:Pg-Pa55@db.example:5432/catchall?sslmode=verify-full&sslrootcert=${file('no-ca.pem')}`;
    const message = refusal(fields, { DATABASE_URL: url });
    expect(message).toMatch(/DATABASE_URL's sslrootcert cannot be read \(ENOENT\)/);
    expect(message).not.toContain('Pg-Pa55');
    const good = `postgres://app:Pg-Pa55@db.example:5432/catchall?sslmode=verify-full&sslrootcert=${file('ca.pem')}`;
    expect(loadConfig(fields, { DATABASE_URL: good }).DATABASE_URL).toBe(good);
  });
  it("refuses a client key that its passphrase does not open, or that is not the certificate's", () => {
    const tls = {
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CERT_FILE: file('cert.pem'),
      KAFKA_SSL_KEY_FILE: file('encrypted-key.pem'),
    };
    expect(refusal(kafka, tls)).toContain('an encrypted key needs KAFKA_SSL_KEY_PASSWORD');
    expect(refusal(kafka, { ...tls, KAFKA_SSL_KEY_PASSWORD: 'wrong-pass' })).toContain(
      'KAFKA_SSL_KEY_FILE cannot be opened with KAFKA_SSL_KEY_PASSWORD',
    );
    expect(
      loadConfig(kafka, { ...tls, KAFKA_SSL_KEY_PASSWORD: 'key-pass' }).KAFKA_SSL_KEY_FILE,
    ).toBe(file('encrypted-key.pem'));
    expect(refusal(kafka, { ...tls, KAFKA_SSL_KEY_FILE: file('other-key.pem') })).toContain(
      'KAFKA_SSL_KEY_FILE is not the key of the certificate in KAFKA_SSL_CERT_FILE',
    );
  });

  it('refuses settings that would do nothing', () => {
    expect(
      refusal(kafka, { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_KEY_PASSWORD: 'p' }),
    ).toContain('KAFKA_SSL_KEY_PASSWORD is set but KAFKA_SSL_KEY_FILE is not');
    expect(
      refusal(kafka, {
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        KAFKA_SASL_MECHANISM: 'PLAIN',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: file('token.jwt'),
      }),
    ).toContain(
      'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE is only read with KAFKA_SASL_MECHANISM=OAUTHBEARER',
    );
    expect(
      refusal(registry, {
        SCHEMA_REGISTRY_URL: 'http://registry:8080/apis/ccompat/v7',
        SCHEMA_REGISTRY_CA_FILE: file('ca.pem'),
      }),
    ).toContain('SCHEMA_REGISTRY_CA_FILE is only used with an https SCHEMA_REGISTRY_URL');
  });

  it('refuses a secret file that is empty, and a token list of commas only', () => {
    const tokens = { API_TOKENS: secret(Type.String({ default: '' })) };
    expect(refusal(kafka, { KAFKA_SASL_PASSWORD_FILE: file('empty') })).toBe(
      `Invalid configuration: KAFKA_SASL_PASSWORD_FILE is empty: ${file('empty')}`,
    );
    expect(refusal(tokens, { API_TOKENS_FILE: file('commas') })).toContain(
      'API_TOKENS holds no token, only commas and spaces',
    );
    expect(refusal(tokens, { API_TOKENS: ' ,, ' })).toContain('API_TOKENS holds no token');
  });

  it('takes <NAME>_FILE beside an empty <NAME>, and names an unreadable file alone', () => {
    const sasl = {
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'alice',
    };
    expect(
      loadConfig(kafka, {
        ...sasl,
        KAFKA_SASL_PASSWORD: '',
        KAFKA_SASL_PASSWORD_FILE: file('password'),
      }).KAFKA_SASL_PASSWORD,
    ).toBe('s3cret-from-file');
    expect(refusal(kafka, { ...sasl, KAFKA_SASL_PASSWORD_FILE: file('gone') })).toBe(
      `Invalid configuration: KAFKA_SASL_PASSWORD_FILE cannot be read (ENOENT): ${file('gone')}`,
    );
  });

  it('refuses a DATABASE_URL that is not a URL, naming it without repeating it', () => {
    const message = refusal(
      { DATABASE_URL: configFields.DATABASE_URL },
      { DATABASE_URL: 'postgres://app:Pg-Pa55@127.0.0.1:99999/catchall' },
    );
    expect(message).toContain('DATABASE_URL is not a valid postgres:// URL');
    expect(message).not.toContain('Pg-Pa55');
    // A password pasted for the URL, or libpq's key=value form node-postgres does not read.
    for (const wrong of ['Pg-Pa55', 'host=db user=app password=Pg-Pa55']) {
      const refused = refusal({ DATABASE_URL: configFields.DATABASE_URL }, { DATABASE_URL: wrong });
      expect(refused).toContain('DATABASE_URL is not a valid postgres:// URL');
      expect(refused).not.toContain('Pg-Pa55');
    }
    expect(
      refusal({ DATABASE_URL: configFields.DATABASE_URL }, { DATABASE_URL: 'mysql://db/app' }),
    ).toContain('DATABASE_URL must be a postgres:// (or postgresql://) URL');
  });

  it('refuses a key given as a CA or a certificate, and a certificate given as a key', () => {
    const message = refusal(kafka, {
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CA_FILE: file('key.pem'),
      KAFKA_SSL_CERT_FILE: file('key.pem'),
      KAFKA_SSL_KEY_FILE: file('cert.pem'),
    });
    expect(message).toContain(`KAFKA_SSL_CA_FILE holds no PEM certificate: ${file('key.pem')}`);
    expect(message).toContain(`KAFKA_SSL_CERT_FILE holds no PEM certificate: ${file('key.pem')}`);
    expect(message).toContain(`KAFKA_SSL_KEY_FILE holds no PEM private key: ${file('cert.pem')}`);
  });

  it('refuses registry credentials over http to another machine, not to this one', () => {
    const basic = { SCHEMA_REGISTRY_USERNAME: 'u', SCHEMA_REGISTRY_PASSWORD: 'p' };
    for (const credentials of [basic, { SCHEMA_REGISTRY_TOKEN: 't' }]) {
      expect(
        refusal(registry, { SCHEMA_REGISTRY_URL: 'http://registry:8080/apis', ...credentials }),
      ).toContain('need an https SCHEMA_REGISTRY_URL (http only to a loopback address)');
    }
    for (const host of ['127.0.0.1:8081', 'localhost:8081', '[::1]:8081']) {
      expect(
        loadConfig(registry, { SCHEMA_REGISTRY_URL: `http://${host}/apis`, ...basic })
          .SCHEMA_REGISTRY_USERNAME,
      ).toBe('u');
    }
  });
});
