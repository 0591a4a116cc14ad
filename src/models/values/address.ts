import { DataTypes } from 'sequelize';
import { z } from 'zod';
import type { ValueObject } from './embedded-value.js';

/** ISO 3166-1 alpha-2, the 249 officially assigned codes (no reserved, deprecated or user-assigned ones). */
const COUNTRIES = new Set(
  `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL
  BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV
  CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD
  GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM
  IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK
  LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW
  MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR
  PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS
  ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY
  UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`.split(/\s+/),
);

export const ADDRESS_PART_MAX = 200;

const part = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(ADDRESS_PART_MAX, `must be at most ${ADDRESS_PART_MAX} characters`)
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')
  .refine((s) => s.isWellFormed(), 'must be well-formed Unicode');

/** An ISO 3166-1 alpha-2 code, upper case (`DE`). */
export const countryCode = z
  .string({ error: 'must be a string' })
  .refine((c) => COUNTRIES.has(c), 'must be an ISO 3166-1 alpha-2 country code in upper case, e.g. "DE"');

export interface Address {
  line1: string;
  line2: string | null;
  city: string;
  region: string | null;
  postalCode: string;
  country: string;
}

const addressSchema = z
  .strictObject(
    {
      line1: part,
      line2: part.nullable().optional(),
      city: part,
      region: part.nullable().optional(),
      postalCode: part,
      country: countryCode,
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'must be an address object {line1, line2?, city, region?, postalCode, country}' : undefined) },
  )
  .transform(
    (a): Address => ({ line1: a.line1, line2: a.line2 ?? null, city: a.city, region: a.region ?? null, postalCode: a.postalCode, country: a.country }),
  );

/** A postal address: users' `address`, orders' `shippingAddress` and `billingAddress`. */
export const ADDRESS: ValueObject<Address> = {
  name: 'address',
  columns: { line1: DataTypes.TEXT, line2: DataTypes.TEXT, city: DataTypes.TEXT, region: DataTypes.TEXT, postalCode: DataTypes.TEXT, country: DataTypes.TEXT },
  schema: addressSchema,
};

/** The same validator for the HTTP edge: a 400 names the part (`address.postalCode`). */
export const addressInput = addressSchema;
