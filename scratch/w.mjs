import { z } from 'zod';
const s = z.strictObject({ port: z.int().min(1).optional(), host: z.string().optional() })
  .superRefine((v, ctx) => { if (!v.host) ctx.addIssue({ code: 'custom', path: ['host'], message: 'host required' }); }, { when: () => true });
console.log(JSON.stringify(s.safeParse({ port: 0 }).error.issues.map(i => i.message)));
const t = z.strictObject({ port: z.int().min(1).optional(), host: z.string().optional() })
  .check(z.superRefine((v, ctx) => { if (!v.host) ctx.addIssue({ code: 'custom', path: ['host'], message: 'host required' }); }, { when: () => true }));
console.log(JSON.stringify(t.safeParse({ port: 0 }).error.issues.map(i => i.message)));
const u = z.strictObject({ port: z.int().min(1).optional(), host: z.string().optional() })
  .refine((v) => !!v.host, { message: 'host required', path: ['host'], when: () => true });
console.log(JSON.stringify(u.safeParse({ port: 0 }).error.issues.map(i => i.message)));
