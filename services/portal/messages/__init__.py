"""The words of each area of the portal, in English and Russian (merged into i18n's catalogues)."""
